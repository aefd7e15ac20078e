"""Single sign-on sessions: a random secret held by the browser, its digest and state here.

Every sign-in makes a new session with a new secret (``start``), so a secret planted
before the sign-in is worthless after it. Ending a session (``end``) revokes every token
issued in it and queues OIDC Back-Channel Logout notices. The browser side (the cookie)
is ``idp.web.signin``'s.
"""

from __future__ import annotations

import secrets

from flask import current_app, has_request_context, request
from sqlalchemy import bindparam, select, update

from . import audit, backchannel, db, signals, tokens
from .identity import Identity
from .models import Account, SsoSession, Token, digest, now

TOUCH_EVERY = 60  # seconds between last_seen_at writes for one session


FIND = select(SsoSession).where(SsoSession.secret_hash == bindparam("hashed"))
LOGGED_IN = (update(Account.__table__).where(Account.id == bindparam("account_id"))
             .values(last_login_at=bindparam("moment"), inactivity_warned_at=None))


def find(secret: str) -> SsoSession | None:
    """The live session whose secret the browser holds; its idle clock is touched."""
    if not 20 <= len(secret) <= 100:
        return None
    sso = db.session().scalar(FIND, {"hashed": digest(secret)})
    if sso is None or not live(sso):
        return None
    if now() - sso.last_seen_at >= TOUCH_EVERY:
        sso.last_seen_at = now()
    return sso


def live(sso: SsoSession) -> bool:
    """Not ended, not expired, not idle too long, and its account may still sign in."""
    moment = now()
    idle = current_app.config["REMEMBER_IDLE_SECONDS" if sso.remember
                              else "SESSION_IDLE_SECONDS"]
    return (sso.ended_at is None and sso.expires_at > moment
            and moment - sso.last_seen_at < idle and sso.account.active)


def start(identity: Identity, remember: bool, device: str) -> tuple[SsoSession, str]:
    """Open a new session for a confirmed ``identity``; the session and its secret."""
    secret = secrets.token_urlsafe(32)
    moment = now()
    lifetime = current_app.config["REMEMBER_TTL" if remember else "SESSION_TTL"]
    sso = SsoSession(
        sid=secrets.token_urlsafe(24),
        secret_hash=digest(secret),
        account_id=identity.account_id,
        auth_time=moment,
        amr=list(identity.amr),
        remember=remember,
        user_agent=device[:300],
        ip=audit.network(request.remote_addr) if has_request_context() else None,
        created_at=moment,
        last_seen_at=moment,
        expires_at=moment + lifetime,
    )
    db.session().add(sso)
    # on the connection, past the ORM: the Account loaded for this sign-in keeps its old
    # last_login_at in memory, which nothing reads before the request ends
    db.session().connection().execute(LOGGED_IN, {"account_id": identity.account_id,
                                                  "moment": moment})
    db.session().flush()
    return sso, secret


def end(sso: SsoSession) -> None:
    """End one session: revoke the tokens issued in it, notify relying parties.

    Refresh tokens issued in the session end with it, offline_access ones included: a
    logout here means "this person's sessions with this provider are over".
    """
    ended = db.session().execute(
        update(SsoSession).where(SsoSession.id == sso.id, SsoSession.ended_at.is_(None))
        .values(ended_at=now())
    ).rowcount
    db.session().expire(sso, ["ended_at"])
    if ended:  # only the request that ended it revokes and notifies
        tokens.revoke_families(Token.sid == sso.sid)
        backchannel.enqueue(sso)
        signals.session_revoked(sso)


def of(account: Account) -> list[SsoSession]:
    """The account's sessions that have not ended, the most recently used first."""
    return list(db.session().scalars(select(SsoSession).where(
        SsoSession.account_id == account.id, SsoSession.ended_at.is_(None),
        SsoSession.expires_at > now()).order_by(SsoSession.last_seen_at.desc())))


def end_all(account: Account, keep: SsoSession | None = None) -> None:
    """End every session of the account (but ``keep``) and revoke all of its tokens."""
    for sso in db.session().scalars(select(SsoSession).where(
            SsoSession.account_id == account.id, SsoSession.ended_at.is_(None))):
        if keep is None or sso.id != keep.id:
            end(sso)
    if keep is None:
        tokens.revoke_account(account.id)
