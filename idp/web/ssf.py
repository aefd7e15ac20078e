"""The Shared Signals transmitter's endpoints (SSF 1.0 sections 7 and 8, RFC 8936).

- ``GET /.well-known/ssf-configuration``: the transmitter metadata (no database);
- ``/ssf/stream`` (POST create, GET read, PATCH update, PUT replace, DELETE),
  ``/ssf/status`` (GET, POST), ``/ssf/subjects:add``, ``/ssf/subjects:remove``,
  ``/ssf/verify``: the stream management API;
- ``POST /ssf/poll/<stream_id>``: poll delivery (RFC 8936).

Each call carries ``Authorization: Bearer`` with an access token the service got by the
client_credentials grant: ``ssf.manage`` to change, ``ssf.manage`` or ``ssf.read`` to
read. A token reaches only its own client's stream: another stream is "not found"
(404), as one that does not exist. Bodies are JSON; a malformed one is a 400 with the
reason, never a 500. What the calls do is ``idp.streams``; what travels on a stream,
``idp.signals``.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy import select

from .. import db, paths, signals, streams
from ..models import Client, SsfStream, Token, digest, now

bp = Blueprint("ssf", __name__)
CONFIGURATION = paths.SSF_CONFIGURATION


class Refused(Exception):
    """An SSF call answered with an HTTP error and a JSON reason."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@bp.errorhandler(Refused)
def _refused(refused: Refused):
    response = jsonify(error=refused.error, error_description=refused.description)
    response.status_code = refused.status
    if refused.status == 401:
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="{current_app.config["ISSUER"]}", error="{refused.error}"')
    return _no_store(response)


@bp.errorhandler(streams.StreamError)
def _stream_error(error: streams.StreamError):
    names = {400: "invalid_request", 404: "not_found", 409: "conflict",
             429: "too_many_requests"}
    return _refused(Refused(error.status, names.get(error.status, "invalid_request"),
                            error.description))


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _json(value, status: int = 200):
    response = jsonify(value)
    response.status_code = status
    return _no_store(response)


def _empty(status: int):
    return _no_store(current_app.response_class(status=status))


@bp.get(CONFIGURATION)
def configuration():
    """The transmitter configuration metadata (SSF 1.0 section 7.1)."""
    issuer = current_app.config["ISSUER"]
    response = jsonify({
        "spec_version": "1_0",
        "issuer": issuer,
        "jwks_uri": f"{issuer}/jwks.json",
        "delivery_methods_supported": [signals.PUSH, signals.POLL],
        "configuration_endpoint": f"{issuer}/ssf/stream",
        "status_endpoint": f"{issuer}/ssf/status",
        "add_subject_endpoint": f"{issuer}/ssf/subjects:add",
        "remove_subject_endpoint": f"{issuer}/ssf/subjects:remove",
        "verification_endpoint": f"{issuer}/ssf/verify",
        "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
        "default_subjects": "ALL",
    })
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _client(write: bool) -> str:
    """The client whose client_credentials token the request carries, allowed to change
    (``write``) or to read its stream; Refused (401, 403) otherwise."""
    scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 512:
        raise Refused(401, "invalid_token", "Send 'Authorization: Bearer <access token>' "
                                            "from the client_credentials grant.")
    found = db.session().execute(select(
        Token.client_id, Token.scope, Token.access_expires_at, Token.access_revoked_at,
        Token.account_id, Client.scope).join(Client, Client.client_id == Token.client_id)
        .where(Token.access_token_hash == digest(value))).first()
    if found is None or found[2] <= now() or found[3] is not None or found[4] is not None:
        raise Refused(401, "invalid_token", "The access token is invalid, expired, revoked "
                                            "or not a client_credentials token.")
    client_id, scope, registered = found[0], set(found[1].split()), set(found[5].split())
    allowed = scope & registered  # a scope taken from the client ends with it
    if signals.MANAGE not in allowed and (write or signals.READ not in allowed):
        needed = signals.MANAGE if write else f"{signals.MANAGE} or {signals.READ}"
        raise Refused(403, "insufficient_scope", f"The access token lacks {needed}.")
    return client_id


def _body() -> dict:
    found = request.get_json(silent=True) if request.mimetype == "application/json" else None
    if not isinstance(found, dict):
        raise Refused(400, "invalid_request", "Send a JSON object (application/json).")
    return found


def _stream(client_id: str, stream_id) -> SsfStream:
    """The client's stream ``stream_id``; 404 for any other (another client's too)."""
    stream = streams.of_client(client_id)
    if stream is None or not isinstance(stream_id, str) or stream.stream_id != stream_id:
        raise Refused(404, "not_found", "There is no stream with this stream_id for this "
                                        "client.")
    return stream


@bp.post("/ssf/stream")
def create():
    """Create the client's stream (one per client: 409 for a second)."""
    client_id = _client(write=True)
    stream = streams.create(client_id, _body())
    return _json(streams.configuration(stream), 201)


@bp.get("/ssf/stream")
def read():
    """The stream's configuration; without ``stream_id`` the list of the client's."""
    client_id = _client(write=False)
    stream_id = request.args.get("stream_id")
    if stream_id is None:
        stream = streams.of_client(client_id)
        return _json([streams.configuration(stream)] if stream else [])
    return _json(streams.configuration(_stream(client_id, stream_id)))


@bp.patch("/ssf/stream")
def update():
    """Change what the body names of the receiver-supplied configuration."""
    return _change(replace=False)


@bp.put("/ssf/stream")
def replace():
    """Replace the receiver-supplied configuration (what is missing is removed)."""
    return _change(replace=True)


def _change(replace: bool):
    client_id = _client(write=True)
    asked = _body()
    stream = _stream(client_id, asked.get("stream_id"))
    streams.change(stream, asked, replace)
    return _json(streams.configuration(stream))


@bp.delete("/ssf/stream")
def delete():
    """Delete the stream and what waits on it."""
    client_id = _client(write=True)
    streams.remove(_stream(client_id, request.args.get("stream_id")))
    return _empty(204)


@bp.get("/ssf/status")
def status():
    """The stream's status."""
    client_id = _client(write=False)
    stream = _stream(client_id, request.args.get("stream_id"))
    return _json(_status(stream))


@bp.post("/ssf/status")
def set_status():
    """Enable, pause (events are held) or disable (events are dropped) the stream."""
    client_id = _client(write=True)
    asked = _body()
    stream = _stream(client_id, asked.get("stream_id"))
    streams.set_status(stream, asked.get("status"), asked.get("reason"))
    return _json(_status(stream))


def _status(stream: SsfStream) -> dict:
    found = {"stream_id": stream.stream_id, "status": stream.status}
    if stream.reason:
        found["reason"] = stream.reason
    return found


@bp.post("/ssf/subjects:add")
def add_subject():
    """Hear about this person again (every person is in a new stream)."""
    return _subject(included=True)


@bp.post("/ssf/subjects:remove")
def remove_subject():
    """Hear nothing more about this person."""
    return _subject(included=False)


def _subject(included: bool):
    client_id = _client(write=True)
    asked = _body()
    stream = _stream(client_id, asked.get("stream_id"))
    streams.include(stream, asked.get("subject"), included)
    return _empty(200 if included else 204)


@bp.post("/ssf/verify")
def verify():
    """Send a verification event with the receiver's ``state``."""
    client_id = _client(write=False)
    asked = _body()
    streams.verify(_stream(client_id, asked.get("stream_id")), asked.get("state"))
    return _empty(204)


@bp.post("/ssf/poll/<stream_id>")
def poll(stream_id: str):
    """RFC 8936: acknowledge (``ack``), report errors (``setErrs``), and take the waiting
    SETs (at most ``maxEvents``); the answer is at once, whatever ``returnImmediately``."""
    client_id = _client(write=False)
    stream = _stream(client_id, stream_id)
    if stream.method != "poll":
        raise Refused(400, "invalid_request", "This stream is delivered by push.")
    asked = _body()
    ack, errors, most = asked.get("ack", []), asked.get("setErrs", {}), asked.get("maxEvents")
    if not isinstance(ack, list) or not all(isinstance(jti, str) for jti in ack):
        raise Refused(400, "invalid_request", "'ack' must be a list of jti values.")
    if not isinstance(errors, dict) or not all(isinstance(e, dict) for e in errors.values()):
        raise Refused(400, "invalid_request", "'setErrs' must map jti values to errors.")
    if most is not None and (not isinstance(most, int) or isinstance(most, bool) or most < 0):
        raise Refused(400, "invalid_request", "'maxEvents' must be a whole number, 0 or more.")
    sets, more = signals.poll(stream, ack, errors, most)
    return _json({"sets": sets, "moreAvailable": more})


def init_app(app: Flask) -> None:
    """Register the endpoints."""
    app.register_blueprint(bp)
