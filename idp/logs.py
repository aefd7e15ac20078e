"""Structured logs: one JSON object a line, with the request id and the VHS.

Every request has an id: the ``X-Request-Id`` a proxy or client sent (when it is 1 to 64
letters, digits, ``.``, ``_`` or ``-``), else a new random one; the answer carries it back
in ``X-Request-Id``, and every log line written while the request runs names it, with
the VHS once one is known (``tag_vhs``, called by the audit trail). Messages are the
code's own fixed texts with values that are no secrets (the audit tests check that no
password, token, code or cookie value reaches a log line).

IDP_LOG_FORMAT chooses ``json`` (the default in production) or ``text`` (development).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time

from flask import Flask, g, has_request_context, request

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
HEADER = "X-Request-Id"


def request_id() -> str | None:
    """The current request's id (None outside a request)."""
    return g.get("request_id") if has_request_context() else None


def tag_vhs(slug: str | None) -> None:
    """Name the VHS in this request's later log lines."""
    if slug and has_request_context():
        g.log_vhs = slug[:63]


class RequestContext(logging.Filter):
    """Adds ``request_id``, ``vhs``, ``method`` and ``path`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id")
            record.vhs = g.get("log_vhs")
            record.method = request.method
            record.path = request.path
        else:
            record.request_id = record.vhs = record.method = record.path = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, VHS, ..."""

    FIELDS = ("request_id", "vhs", "method", "path")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in self.FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(app: Flask) -> None:
    """Send every logger's records (the app's, Authlib's, SQLAlchemy's, ...) to standard
    error in IDP_LOG_FORMAT, with the request context. Called by the servers, not by
    ``create_app``: tests and commands keep their own handlers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestContext())
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(vhs)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    app.logger.handlers.clear()  # Flask's own handler would print each line twice
    app.logger.propagate = True


def _start() -> None:
    offered = request.headers.get(HEADER, "")
    g.request_id = offered if REQUEST_ID.match(offered) else secrets.token_hex(8)


def _answer(response):
    if "request_id" in g:
        response.headers[HEADER] = g.request_id
    return response


def init_app(app: Flask) -> None:
    """Give every request an id, and every answer the ``X-Request-Id`` header."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_answer)
