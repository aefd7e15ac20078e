"""Prometheus metrics (prometheus-client) and ``GET /metrics``.

What an operator watches: sign-ins by outcome and source, tokens issued by grant, the
Verwaltungsprogramme's and itm:PORTAL's latency and errors by VHS, the outbox's depth and
age, throttle hits, and request latency per endpoint. Sign-ins and throttle hits are
counted where the audit trail records them (``count_event``), so the figures and the
trail cannot disagree.

Several worker processes (gunicorn, granian) share their figures when
PROMETHEUS_MULTIPROC_DIR names an empty folder that exists before the workers start;
``/metrics`` then adds up every process's files (prometheus-client's multiprocess mode).

``/metrics`` answers only with ``Authorization: Bearer <IDP_METRICS_TOKEN>``, or, while no
token is set, to loopback clients whose request no proxy forwarded (no ``X-Forwarded-For``,
``Forwarded`` or ``X-Real-IP``); anyone else gets 404, as if it did not exist.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator

from flask import Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from . import db
from .models import OutboxMail, now

LOGINS = Counter("idp_logins_total", "Sign-ins by outcome (ok or the refusal's reason) and "
                 "source (local, portal, upstream, ...).", ["outcome", "source"])
TOKENS = Counter("idp_tokens_issued_total", "Token responses by grant type.", ["grant"])
THROTTLED = Counter("idp_throttle_hits_total", "Requests refused by a throttle or rate "
                    "limit, by what was limited.", ["what"])
PROGRAM_SECONDS = Histogram("idp_adapter_seconds", "Time of a Verwaltungsprogramm check, "
                            "by VHS and adapter.", ["vhs", "adapter"],
                            buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
PROGRAM_ERRORS = Counter("idp_adapter_errors_total", "Verwaltungsprogramm checks that "
                         "could not be answered, by VHS.", ["vhs", "adapter"])
PORTAL_SECONDS = Histogram("idp_portal_seconds", "Time of an itm:PORTAL call, by VHS and "
                           "call.", ["vhs", "call"],
                           buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
PORTAL_ERRORS = Counter("idp_portal_errors_total", "itm:PORTAL calls that failed, by VHS.",
                        ["vhs", "call"])
LIFECYCLE = Counter("idp_lifecycle_total", "What lifecycle passes did, by VHS and what: "
                    "checked (addresses asked), ended (access ended), moved (movers asked to "
                    "confirm a new address), closed, deleted, "
                    "braked (passes that changed nothing).", ["vhs", "what"])
REQUEST_SECONDS = Histogram("idp_request_seconds", "Time to answer a request, by endpoint "
                            "and status class.", ["endpoint", "method", "status"],
                            buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))


def count_event(kind: str, source: str | None, reason: str | None) -> None:
    """Count what the audit trail just recorded (sign-ins and throttle hits)."""
    if kind == "login":
        LOGINS.labels("ok", source or "local").inc()
    elif kind == "login_failed":
        LOGINS.labels(reason or "refused", source or "local").inc()
    elif kind == "throttled":
        THROTTLED.labels(reason or "request").inc()


def token_issued(grant: str) -> None:
    """Count one token response of ``grant``."""
    TOKENS.labels(grant or "unknown").inc()


def timed_program(vhs: str, adapter: str, seconds: float, failed: bool) -> None:
    """Record one Verwaltungsprogramm check."""
    PROGRAM_SECONDS.labels(vhs, adapter).observe(seconds)
    if failed:
        PROGRAM_ERRORS.labels(vhs, adapter).inc()


def count_lifecycle(vhs: str, checked: int, ended: int, moved: int, closed: int,
                    deleted: int, braked: bool) -> None:
    """One lifecycle pass at one VHS (``idp.lifecycle``)."""
    for what, count in (("checked", checked), ("ended", ended), ("moved", moved),
                        ("closed", closed), ("deleted", deleted), ("braked", int(braked))):
        if count:
            LIFECYCLE.labels(vhs, what).inc(count)


def timed_portal(vhs: str, call: str, seconds: float, failed: bool) -> None:
    """Record one itm:PORTAL call."""
    PORTAL_SECONDS.labels(vhs, call).observe(seconds)
    if failed:
        PORTAL_ERRORS.labels(vhs, call).inc()


class OutboxCollector:
    """The outbox's depth and the age of its oldest waiting mail, read at scrape time."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.app.app_context():
            try:
                waiting, oldest = db.session().execute(
                    select(func.count(OutboxMail.id), func.min(OutboxMail.created_at))
                    .where(OutboxMail.delivered_at.is_(None), OutboxMail.failed_at.is_(None))
                ).one()
            except db.UNAVAILABLE:
                return
        yield GaugeMetricFamily("idp_outbox_depth", "Mails waiting to be sent.", waiting)
        yield GaugeMetricFamily("idp_outbox_oldest_seconds", "Age of the oldest waiting "
                                "mail in seconds (0 when none waits).",
                                max(0, now() - oldest) if oldest else 0)


def _start_timer() -> None:
    g.idp_started = time.perf_counter()


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})


def _observe(response):
    started = g.get("idp_started")
    if started is not None:  # labels from a fixed vocabulary only: a client chooses methods
        method = request.method if request.method in METHODS else "other"
        REQUEST_SECONDS.labels(request.endpoint or "none", method,
                               f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started)
    return response


def _allowed() -> bool:
    token = current_app.config["METRICS_TOKEN"]
    if token:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), token.encode())
    # Without a token: a scraper on this machine, not a visitor whom a reverse proxy on
    # this machine passed on (it comes from loopback too, but says whom it forwards).
    forwarded = any(name in request.headers for name in ("X-Forwarded-For", "Forwarded",
                                                          "X-Real-Ip"))
    return (request.remote_addr or "") in ("127.0.0.1", "::1") and not forwarded


def metrics() -> Response:
    """The Prometheus exposition of this process, or of every worker in multiprocess mode."""
    if not _allowed():
        abort(404)
    registry = REGISTRY  # this process's own figures
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()  # every worker's figures, from their files
        multiprocess.MultiProcessCollector(registry)
    output = generate_latest(registry) + generate_latest(_outbox_registry())
    return Response(output, mimetype=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


def _outbox_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(OutboxCollector(current_app._get_current_object()))
    return registry


def init_app(app: Flask) -> None:
    """Time every request; serve /metrics."""
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
