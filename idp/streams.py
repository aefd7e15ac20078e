"""A service's Shared Signals stream (SSF 1.0 section 8): its configuration, status,
subjects and verification, as the service itself changes them through ``idp.web.ssf``
or an operator through ``vhskoop-idp clients set --ssf-push URL``. One stream per
client. What travels on it is ``idp.signals``.
"""

from __future__ import annotations

import secrets

from flask import current_app
from sqlalchemy import delete, select

from . import db, signals
from .clients import RegistrationError, check_redirect_uri
from .models import Client, SsfRemovedSubject, SsfStream, now
from .sealing import seal
from .signals import POLL, PUSH, SUPPORTED, delivered

METHODS = {PUSH: "push", POLL: "poll"}
STATUSES = ("enabled", "paused", "disabled")
MIN_VERIFICATION_INTERVAL = 5  # seconds between two verification requests of a stream
MAX_TEXT = 2000  # characters of a URL or an authorization header


class StreamError(Exception):
    """A stream request that cannot be done: the HTTP status and why, in words."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description



def of_client(client_id: str) -> SsfStream | None:
    """The client's stream, if it has one."""
    return db.session().scalar(select(SsfStream).where(SsfStream.client_id == client_id))


def configuration(stream: SsfStream) -> dict:
    """The stream's configuration as SSF 1.0 section 8.1.1 describes it."""
    delivery = {"method": PUSH if stream.method == "push" else POLL,
                "endpoint_url": stream.endpoint_url if stream.method == "push"
                else f"{current_app.config['ISSUER']}/ssf/poll/{stream.stream_id}"}
    found = {
        "stream_id": stream.stream_id,
        "iss": current_app.config["ISSUER"],
        "aud": stream.client_id,
        "delivery": delivery,
        "events_supported": list(SUPPORTED),
        "events_requested": list(stream.events_requested or []),
        "events_delivered": delivered(stream),
        "min_verification_interval": MIN_VERIFICATION_INTERVAL,
    }
    if stream.description:
        found["description"] = stream.description
    return found


def create(client_id: str, asked: dict) -> SsfStream:
    """A new stream for ``client_id`` from the receiver-supplied ``asked`` (delivery,
    events_requested, description); StreamError 409 when it has one, 400 when ``asked``
    is not a configuration."""
    if of_client(client_id) is not None:
        raise StreamError(409, "This client has a stream already; read it, then update or "
                               "replace it.")
    stream = SsfStream(stream_id=secrets.token_urlsafe(24), client_id=client_id,
                       created_at=now(), status="enabled")
    _apply(stream, asked, replace=True)
    db.session().add(stream)
    db.session().flush()
    return stream


def change(stream: SsfStream, asked: dict, replace: bool) -> None:
    """Update (PATCH: what ``asked`` holds) or replace (PUT: everything, missing means
    none) the receiver-supplied part; transmitter-supplied values may be sent along but
    must match (400)."""
    given = configuration(stream)
    for name in ("iss", "aud", "events_supported", "events_delivered",
                 "min_verification_interval"):
        if name in asked and asked[name] != given[name]:
            raise StreamError(400, f"'{name}' is the transmitter's and cannot be changed.")
    _apply(stream, asked, replace)


def _apply(stream: SsfStream, asked: dict, replace: bool) -> None:
    if replace or "delivery" in asked:
        stream.method, stream.endpoint_url, stream.authorization_header = _delivery(
            asked.get("delivery"))
    if replace or "events_requested" in asked:
        events = asked.get("events_requested", [])
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise StreamError(400, "'events_requested' must be a list of event type URIs.")
        stream.events_requested = [e for e in dict.fromkeys(events) if len(e) <= 200][:50]
    if replace or "description" in asked:
        text = asked.get("description")
        if text is not None and not isinstance(text, str):
            raise StreamError(400, "'description' must be a string.")
        stream.description = text[:200] if text else None
    stream.updated_at = now()


def _delivery(delivery) -> tuple[str, str | None, str | None]:
    """(method, endpoint URL, sealed authorization header) of a receiver's ``delivery``;
    none means poll (SSF 1.0 8.1.1.1)."""
    if delivery is None:
        return "poll", None, None
    if not isinstance(delivery, dict) or delivery.get("method") not in METHODS:
        raise StreamError(400, f"'delivery.method' must be {PUSH} (push) or {POLL} (poll).")
    if delivery["method"] == POLL:
        return "poll", None, None
    url, header = delivery.get("endpoint_url"), delivery.get("authorization_header")
    if not isinstance(url, str) or len(url) > MAX_TEXT:
        raise StreamError(400, "A push stream needs 'delivery.endpoint_url'.")
    try:
        check_redirect_uri(url)
    except RegistrationError:
        raise StreamError(400, "'delivery.endpoint_url' must be https (or http on a loopback "
                               "host), without credentials or fragment.") from None
    if not url.lower().startswith(("https://", "http://")):
        raise StreamError(400, "'delivery.endpoint_url' must be https.")
    if header is not None and (not isinstance(header, str) or len(header) > MAX_TEXT
                               or any(ord(c) < 32 or ord(c) == 127 for c in header)):
        raise StreamError(400, "'delivery.authorization_header' must be one line of text.")
    return "push", url, seal({"value": header}, "ssf-header") if header else None


def operate(client: Client, push: str | None = None, poll: bool = False,
            events: list[str] | None = None, status: str | None = None,
            delete: bool = False) -> SsfStream | None:
    """An operator sets the client's stream up (``clients set --ssf-push URL`` or
    ``--ssf-poll``, with ``events`` by name or URI), changes its status, or deletes it;
    the stream afterwards (None: none)."""
    stream = of_client(client.client_id)
    if delete:
        if stream is not None:
            remove(stream)
        return None
    if push is not None or poll:
        wanted = [e if e.startswith("https://") else _named(e) for e in events or []]
        asked = {"delivery": {"method": PUSH, "endpoint_url": push} if push is not None
                 else {"method": POLL}, "events_requested": wanted or list(SUPPORTED)}
        if stream is None:
            stream = create(client.client_id, asked)
        else:
            change(stream, {**asked, "description": stream.description}, replace=True)
    if status is not None:
        if stream is None:
            raise StreamError(404, f"{client.client_id} has no stream; set one up with "
                                   "--ssf-push URL or --ssf-poll")
        announce(stream, status, "set by an operator")
    return stream


def _named(name: str) -> str:
    for uri in SUPPORTED:
        if uri.rsplit("/", 1)[1] == name:
            return uri
    raise StreamError(400, f"unknown event {name!r}; choose from "
                           + ", ".join(uri.rsplit("/", 1)[1] for uri in SUPPORTED))


def remove(stream: SsfStream) -> None:
    """Delete the stream with its events."""
    db.session().delete(stream)
    db.session().flush()


def set_status(stream: SsfStream, status: str, reason: str | None) -> None:
    """The receiver (or an operator) enables, pauses or disables the stream. A paused
    stream holds its events; a disabled one drops what waits and takes nothing new."""
    if status not in STATUSES:
        raise StreamError(400, "'status' must be enabled, paused or disabled.")
    if reason is not None and not isinstance(reason, str):
        raise StreamError(400, "'reason' must be a string.")
    signals.take_status(stream, status, reason)


def announce(stream: SsfStream, status: str, reason: str) -> None:
    """The transmitter's side (an operator) changes the stream's status: the receiver
    hears a stream-updated event first (SSF 1.0 8.1.5); a pause or a disabling takes
    effect once that event is delivered (push) or acknowledged (poll), so the receiver
    learns of it before its events stop."""
    if status not in STATUSES:
        raise StreamError(400, "'status' must be enabled, paused or disabled.")
    if status == stream.status:
        return
    if status == "enabled":
        signals.take_status(stream, status, reason)
    signals.queue(stream, None, {"format": "opaque", "id": stream.stream_id},
                  signals.STREAM_UPDATED, {"status": status, "reason": reason}, now())


def verify(stream: SsfStream, state: str | None) -> None:
    """Queue a verification event (SSF 1.0 8.1.4.2); StreamError 429 when asked again
    within MIN_VERIFICATION_INTERVAL."""
    moment = now()
    if state is not None and (not isinstance(state, str) or len(state) > 1000):
        raise StreamError(400, "'state' must be a string of at most 1000 characters.")
    if stream.verified_at and moment - stream.verified_at < MIN_VERIFICATION_INTERVAL:
        raise StreamError(429, f"At most one verification every {MIN_VERIFICATION_INTERVAL} "
                               "seconds.")
    stream.verified_at = moment
    body = {"state": state} if state is not None else {}
    signals.queue(stream, None, {"format": "opaque", "id": stream.stream_id},
                  signals.VERIFICATION, body, moment)


def subject_of(subject) -> str | None:
    """The ``sub`` of an ``iss_sub`` subject of ours (None for anything else)."""
    if not isinstance(subject, dict) or subject.get("format") != "iss_sub":
        raise StreamError(400, "Subjects are identified as iss_sub (RFC 9493).")
    sub = subject.get("sub")
    if subject.get("iss") != current_app.config["ISSUER"] or not isinstance(sub, str):
        return None
    return sub[:64]


def include(stream: SsfStream, subject, included: bool) -> None:
    """Add (``included``) or remove a subject. The answer never says whether the person
    exists or ever used the service (SSF 1.0 9.1): removing one nobody knows is stored as
    any other."""
    sub = subject_of(subject)
    if sub is None:
        return
    session = db.session()
    session.execute(delete(SsfRemovedSubject).where(SsfRemovedSubject.stream_pk == stream.id,
                                                    SsfRemovedSubject.sub == sub))
    if not included:
        session.add(SsfRemovedSubject(stream_pk=stream.id, sub=sub))
    session.flush()
