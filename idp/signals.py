"""Shared Signals: every service hears of each change to the people it holds tokens for
(OpenID Shared Signals Framework 1.0, CAEP 1.0, RISC 1.0; SETs of RFC 8417).

A service (a client) has at most one event stream (``idp.streams``), which it manages
itself through the endpoints of ``idp.web.ssf`` with a client_credentials token carrying
``ssf.manage`` (``ssf.read`` reads), or which an operator sets up (``vhskoop-idp clients
set --ssf-push URL``). The events:

- CAEP session-revoked: a session ended (logout, "Überall abmelden", an administrator, a
  leaver), to each service with tokens in it, with the ``sid`` it knows;
- CAEP credential-change: a password set or reset, a second factor added, removed or reset;
- RISC account-disabled and account-enabled (an administrator, the lifecycle),
  account-purged (deleted), identifier-changed (a mover's new address, to the services
  that received the ``email`` claim).

Privacy: an event goes only to the services that hold or held tokens for the person; a
service learns nothing about anyone else, not even that they exist. Each event is written,
in the transaction of its cause, as one row per stream (``SsfEvent``), and signed with the
provider's current key when it is sent or polled: by push (RFC 8935, the worker,
``deliver_due``), in order per stream, each once, retried with back-off while the
receiver fails; or by poll (RFC 8936, ``poll``). A paused stream holds its events, a
disabled one drops them. ``purge`` removes events after IDP_SSF_EVENT_DAYS.

No maintained Python library implements an SSF transmitter; the SETs are JWTs signed with
joserfc, as the ID tokens are.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

import requests
from flask import current_app
from joserfc import jwt
from sqlalchemy import delete, exists, func, select, update

from . import db, outbox
from .claims import SERVICE_SCOPES
from .models import (
    Account,
    Client,
    SsfEvent,
    SsfRemovedSubject,
    SsfStream,
    SsoSession,
    Token,
    now,
)
from .sealing import unseal
from .signing import signing

PUSH, POLL = "urn:ietf:rfc:8935", "urn:ietf:rfc:8936"
CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
SSF = "https://schemas.openid.net/secevent/ssf/event-type/"
SESSION_REVOKED = CAEP + "session-revoked"
CREDENTIAL_CHANGE = CAEP + "credential-change"
ACCOUNT_DISABLED = RISC + "account-disabled"
ACCOUNT_ENABLED = RISC + "account-enabled"
ACCOUNT_PURGED = RISC + "account-purged"
IDENTIFIER_CHANGED = RISC + "identifier-changed"
VERIFICATION = SSF + "verification"
STREAM_UPDATED = SSF + "stream-updated"
SUPPORTED = (SESSION_REVOKED, CREDENTIAL_CHANGE, ACCOUNT_DISABLED, ACCOUNT_ENABLED,
             ACCOUNT_PURGED, IDENTIFIER_CHANGED)
MANAGE, READ = SERVICE_SCOPES
LEASE_SECONDS = 120  # a worker delivers one push stream at a time, in order
ROUND_SECONDS = 10  # then the other streams get their turn
MAX_POLL = 200  # SETs in one poll answer


def delivered(stream: SsfStream) -> list[str]:
    """The event types the stream carries: those it asked for that we send."""
    return [uri for uri in SUPPORTED if uri in (stream.events_requested or [])]



# -- events ----------------------------------------------------------------------------------

def session_revoked(sso: SsoSession) -> int:
    """Every service with tokens in the ended session ``sso`` hears of it, with the
    ``sid`` it knows; how many events were queued."""
    holders = set(db.session().scalars(select(Token.client_id).where(Token.sid == sso.sid)))
    user = _user(sso.account.sub)
    subject = {"format": "complex", "user": user,
               "session": {"format": "opaque", "id": sso.sid}}
    return _emit(holders, sso.account.sub, subject, SESSION_REVOKED, {})


def credential_change(account: Account, credential: str, change: str,
                      initiating: str = "user") -> int:
    """A credential of the person changed: ``credential`` (password, app, fido2-platform,
    ...) and ``change`` (create, update, delete, revoke), CAEP 1.0 3.2."""
    return _emit(holders(account), account.sub, _user(account.sub), CREDENTIAL_CHANGE,
                 {"credential_type": credential, "change_type": change,
                  "initiating_entity": initiating})


def account_disabled(account: Account, initiating: str = "admin") -> int:
    """The account was disabled (by an administrator, or as a leaver by the program)."""
    return _emit(holders(account), account.sub, _user(account.sub), ACCOUNT_DISABLED,
                 {"initiating_entity": initiating})


def account_enabled(account: Account, initiating: str = "admin") -> int:
    """The account may sign in again."""
    return _emit(holders(account), account.sub, _user(account.sub), ACCOUNT_ENABLED,
                 {"initiating_entity": initiating})


def forget(account: Account) -> None:
    """The account is about to be deleted: what still waits for it goes (an
    identifier-changed event holds its addresses); the deletion's own events follow."""
    db.session().execute(delete(SsfEvent).where(SsfEvent.subject == account.sub))


def account_purged(account: Account, holders: set[str]) -> int:
    """The account is deleted: the services that held tokens for it (``holders``, taken
    before its tokens went) hear of it; the event carries only the pseudonym."""
    return _emit(holders, account.sub, _user(account.sub), ACCOUNT_PURGED, {})


def identifier_changed(account: Account, old: str) -> int:
    """A mover's address changed (RISC 2.7: the subject is the old address): to the
    services that received the ``email`` claim for the person."""
    holders = set(db.session().scalars(select(Token.client_id).where(
        Token.account_id == account.id, Token.scope.contains("email"))))
    return _emit(holders, account.sub, {"format": "email", "email": old}, IDENTIFIER_CHANGED,
                 {"new-value": account.address})


def holders(account: Account) -> set[str]:
    """The services that hold or held tokens for the person."""
    return set(db.session().scalars(select(Token.client_id).where(
        Token.account_id == account.id).distinct()))


def _user(sub: str) -> dict:
    return {"format": "iss_sub", "iss": current_app.config["ISSUER"], "sub": sub}


def _emit(holders: Iterable[str], sub: str, subject: dict, event: str, body: dict) -> int:
    """One event to each stream of ``holders`` that carries ``event``, takes events now
    and has not removed the person."""
    holders = set(holders)
    if not holders:
        return 0
    removed = exists().where(SsfRemovedSubject.stream_pk == SsfStream.id,
                             SsfRemovedSubject.sub == sub)
    streams = db.session().scalars(select(SsfStream).where(
        SsfStream.client_id.in_(sorted(holders)), SsfStream.status != "disabled", ~removed))
    moment, count = now(), 0
    txn = secrets.token_urlsafe(12)  # the same cause across the streams
    for stream in streams:
        if event in delivered(stream):
            queue(stream, sub, subject, event, {**body, "event_timestamp": moment}, moment,
                   txn)
            count += 1
    return count


def queue(stream: SsfStream, sub: str | None, subject: dict, event: str, body: dict,
           moment: int, txn: str | None = None) -> None:
    jti = secrets.token_urlsafe(24)
    claims = {"iss": current_app.config["ISSUER"], "jti": jti, "iat": moment,
              "aud": stream.client_id, "sub_id": subject, "events": {event: body}}
    if txn:
        claims["txn"] = txn
    db.session().add(SsfEvent(stream_pk=stream.id, jti=jti, subject=sub, claims=claims,
                              created_at=moment, next_attempt_at=moment))


def token(event: SsfEvent, client: Client) -> str:
    """The event as a signed SET: ``typ: secevent+jwt``, the current key of the
    algorithm the client takes its ID tokens in."""
    key = signing().keyring().current(client.id_token_signed_response_alg)
    return jwt.encode({"alg": key.alg, "kid": key.kid, "typ": "secevent+jwt"},
                      event.claims, key.jwk, algorithms=[key.alg])


def take_status(stream: SsfStream, status: str, reason: str | None) -> None:
    """The stream is enabled, paused (its events are held) or disabled (what waits is
    dropped, and nothing new is taken)."""
    stream.status, stream.reason = status, (reason or "")[:200] or None
    stream.updated_at = now()
    if status == "disabled":
        db.session().execute(delete(SsfEvent).where(
            SsfEvent.stream_pk == stream.id, SsfEvent.delivered_at.is_(None),
            SsfEvent.failed_at.is_(None)))


def _announced(stream: SsfStream, event: SsfEvent) -> None:
    """A stream-updated event reached the receiver: now the stream takes its status."""
    body = event.claims["events"].get(STREAM_UPDATED)
    if body is not None and body.get("status") != stream.status:
        take_status(stream, body["status"], body.get("reason"))


# -- push delivery (RFC 8935) ----------------------------------------------------------------

@dataclass
class Pushed:
    """What one round of push deliveries did."""

    delivered: int = 0
    refused: int = 0  # the receiver answered 400 with an error code: not sent again
    retried: int = 0


def deliver_due() -> dict[str, int]:
    """Push what waits on each enabled push stream, in order, one worker per stream at a
    time; the counts."""
    done, moment = Pushed(), now()
    due = exists().where(SsfEvent.stream_pk == SsfStream.id, SsfEvent.delivered_at.is_(None),
                         SsfEvent.failed_at.is_(None), SsfEvent.next_attempt_at <= moment)
    ids = list(db.session().scalars(select(SsfStream.id).where(
        SsfStream.method == "push", SsfStream.status == "enabled", due)))
    db.session().commit()
    for stream_id in ids:
        if _claim(stream_id):
            try:
                _push_stream(stream_id, done)
            finally:
                db.session().execute(update(SsfStream).where(SsfStream.id == stream_id)
                                     .values(lease_until=None))
                db.session().commit()
    return {"delivered": done.delivered, "retried": done.retried, "failed": done.refused}


def _claim(stream_id: int) -> bool:
    moment = now()
    taken = db.session().execute(update(SsfStream).where(
        SsfStream.id == stream_id, (SsfStream.lease_until.is_(None))
        | (SsfStream.lease_until < moment)).values(lease_until=moment + LEASE_SECONDS)
    ).rowcount == 1
    db.session().commit()
    return taken


def _push_stream(stream_id: int, done: Pushed) -> None:
    """The stream's waiting events, oldest first, until one fails (the later ones wait
    behind it: a receiver sees each subject's events in order) or the round's time is up."""
    session = db.session()
    stream = session.get(SsfStream, stream_id)
    header = unseal(stream.authorization_header, "ssf-header")["value"] \
        if stream.authorization_header else None
    started = time.monotonic()
    while time.monotonic() - started < ROUND_SECONDS and stream.status == "enabled":
        event = session.scalar(select(SsfEvent).where(
            SsfEvent.stream_pk == stream_id, SsfEvent.delivered_at.is_(None),
            SsfEvent.failed_at.is_(None)).order_by(SsfEvent.id).limit(1))
        if event is None or event.next_attempt_at > now():
            return
        outcome = _push(stream, event, header)
        if outcome == "delivered":
            _announced(stream, event)
        session.commit()
        setattr(done, outcome, getattr(done, outcome) + 1)
        if outcome == "retried":
            return
        session.refresh(stream, ["status"])


def _push(stream: SsfStream, event: SsfEvent, header: str | None) -> str:
    headers = {"Content-Type": "application/secevent+jwt", "Accept": "application/json"}
    if header:
        headers["Authorization"] = header
    try:
        response = requests.post(stream.endpoint_url, data=token(event, stream.client),
                                 headers=headers, timeout=5, allow_redirects=False)
    except requests.RequestException as error:
        return _retry(event, error)
    refusal = _refusal(response)
    if response.status_code not in (200, 202, 204) and refusal is None:
        return _retry(event, requests.HTTPError(f"HTTP {response.status_code}"))
    event.attempts += 1
    if refusal is not None:  # RFC 8935 2.3: the receiver will not take this SET
        event.failed_at, event.last_error = now(), refusal[:300]
        current_app.logger.warning("security event %s refused by %s: %s", event.jti,
                                   stream.client_id, refusal)
        return "refused"
    event.delivered_at = now()
    return "delivered"


def _refusal(response) -> str | None:
    """The RFC 8935 error of a 400 answer (``err`` and ``description``), else None."""
    if response.status_code != 400:
        return None
    try:
        found = response.json()
    except (ValueError, json.JSONDecodeError):
        return None
    if not isinstance(found, dict) or not isinstance(found.get("err"), str):
        return None
    return f"{found['err']}: {str(found.get('description', ''))[:200]}"


def _retry(event: SsfEvent, error: Exception) -> str:
    outbox.retry_later(event, error, first_delay=1, longest_delay=60,
                       give_up_after=current_app.config["SSF_EVENT_DAYS"] * 86400)
    return "retried"


# -- poll delivery (RFC 8936) ----------------------------------------------------------------

def poll(stream: SsfStream, ack: list, errors: dict, max_events: int | None) -> tuple[dict, bool]:
    """Acknowledge ``ack`` and record ``errors`` (jti: {err, description}), then the
    waiting SETs, oldest first (at most ``max_events``, or MAX_POLL): ({jti: SET}, more)."""
    session, moment = db.session(), now()
    if ack:
        acked = list(session.scalars(select(SsfEvent).where(
            SsfEvent.stream_pk == stream.id, SsfEvent.jti.in_(ack[:1000]),
            SsfEvent.delivered_at.is_(None)).order_by(SsfEvent.id)))
        for event in acked:
            event.delivered_at = moment
            _announced(stream, event)
    for jti, error in list(errors.items())[:1000]:
        session.execute(update(SsfEvent).where(
            SsfEvent.stream_pk == stream.id, SsfEvent.jti == jti,
            SsfEvent.delivered_at.is_(None)).values(
            failed_at=moment, last_error=json.dumps(error)[:300]))
    limit = MAX_POLL if max_events is None else min(max_events, MAX_POLL)
    if limit == 0 or stream.status != "enabled":
        return {}, False
    waiting = list(session.scalars(select(SsfEvent).where(
        SsfEvent.stream_pk == stream.id, SsfEvent.delivered_at.is_(None),
        SsfEvent.failed_at.is_(None)).order_by(SsfEvent.id).limit(limit + 1)))
    sets = {event.jti: token(event, stream.client) for event in waiting[:limit]}
    return sets, len(waiting) > limit


def purge(before: int) -> int:
    """Remove the events written before ``before`` (IDP_SSF_EVENT_DAYS); how many."""
    return db.session().execute(delete(SsfEvent).where(SsfEvent.created_at < before)).rowcount


def waiting(stream: SsfStream) -> int:
    """How many events wait on the stream."""
    return db.session().scalar(select(func.count()).select_from(SsfEvent).where(
        SsfEvent.stream_pk == stream.id, SsfEvent.delivered_at.is_(None),
        SsfEvent.failed_at.is_(None))) or 0
