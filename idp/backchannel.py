"""OIDC Back-Channel Logout 1.0: tell relying parties that a session ended.

When an SSO session ends, every relying party that received tokens in it and registered a
``backchannel_logout_uri`` gets a notice in an outbox (same transaction); a worker POSTs
``logout_token=<JWT>`` to each, retrying with back-off, so the person's logout never waits
on a slow relying party. The logout token (section 2.4) carries ``iss``, ``aud``, ``iat``,
``exp``, ``jti``, ``events``, ``sid`` and ``sub``, never a ``nonce``, with the header
``typ: logout+jwt``; it is signed at delivery time, so a retried notice is still fresh.
"""

from __future__ import annotations

import secrets

import requests
from flask import current_app
from joserfc import jwt
from sqlalchemy import select

from . import db, outbox
from .models import Account, Client, LogoutDelivery, SsoSession, Token, now
from .signing import signing

EVENT = "http://schemas.openid.net/event/backchannel-logout"
LEASE_SECONDS = 120
GIVE_UP_SECONDS = 86400
TOKEN_LIFETIME = 120


def enqueue(sso: SsoSession) -> int:
    """Notices for every relying party with tokens in ``sso`` (the caller commits)."""
    session = db.session()
    clients = session.scalars(
        select(Client).where(Client.backchannel_logout_uri.is_not(None),
                             Client.client_id.in_(select(Token.client_id)
                                                  .where(Token.sid == sso.sid))))
    count = 0
    for client in clients:
        _notice(client, sso.account.sub, sso.sid)
        count += 1
    return count


def withdrawn(account: Account, client_id: str) -> int:
    """Notices to ``client_id`` for each live session of ``account`` it holds tokens in:
    the person withdrew its access on "Mein Zugang", so the service's own sessions end
    too (the caller commits)."""
    session = db.session()
    client = session.scalar(select(Client).where(Client.client_id == client_id,
                                                 Client.backchannel_logout_uri.is_not(None)))
    if client is None:
        return 0
    sids = list(session.scalars(select(SsoSession.sid).where(
        SsoSession.account_id == account.id, SsoSession.ended_at.is_(None),
        SsoSession.sid.in_(select(Token.sid).where(Token.client_id == client_id)))))
    for sid in sids:
        _notice(client, account.sub, sid)
    return len(sids)


def _notice(client: Client, sub: str, sid: str) -> None:
    db.session().add(LogoutDelivery(client_id=client.client_id, uri=client.backchannel_logout_uri,
                                    sub=sub, sid=sid, created_at=now(), next_attempt_at=now()))


def logout_token(delivery: LogoutDelivery) -> str:
    """The signed logout token for one notice."""
    client = delivery.client
    key = signing().keyring().current(client.id_token_signed_response_alg)
    issued = now()
    claims = {"iss": current_app.config["ISSUER"], "aud": client.client_id, "iat": issued,
              "exp": issued + TOKEN_LIFETIME, "jti": secrets.token_urlsafe(16),
              "events": {EVENT: {}}, "sid": delivery.sid, "sub": delivery.sub}
    return jwt.encode({"alg": key.alg, "kid": key.kid, "typ": "logout+jwt"}, claims, key.jwk,
                      algorithms=[key.alg])


def deliver_due(limit: int = 50) -> dict[str, int]:
    """POST the due notices; counts of delivered, retried and failed ones."""
    return outbox.deliver_due(LogoutDelivery, _deliver, LEASE_SECONDS,
                              {"delivered": 0, "retried": 0, "failed": 0}, limit)


def _deliver(delivery: LogoutDelivery) -> str:
    moment = now()
    try:
        response = requests.post(delivery.uri, data={"logout_token": logout_token(delivery)},
                                 timeout=5, allow_redirects=False)
        if response.status_code not in (200, 204):
            raise requests.HTTPError(f"HTTP {response.status_code}")
    except requests.RequestException as error:
        if outbox.retry_later(delivery, error, first_delay=10, give_up_after=GIVE_UP_SECONDS):
            current_app.logger.error("back-channel logout to %s given up: %s",
                                     delivery.client_id, delivery.last_error)
            return "failed"
        return "retried"
    delivery.delivered_at, delivery.lease_until = moment, None
    delivery.attempts += 1
    current_app.logger.info("back-channel logout %s delivered to %s, attempt %d", delivery.id,
                            delivery.client_id, delivery.attempts)
    return "delivered"
