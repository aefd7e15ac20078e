"""Single sign-on sessions: a random secret in a cookie, its digest and state in the database.

The cookie is HttpOnly, SameSite=Lax, Secure (with the ``__Host-`` prefix) when the issuer
is https; persistent only with "Angemeldet bleiben". Every login makes a new session with
a new secret, so a secret planted before login is worthless after it (session fixation).
"""

from __future__ import annotations

import secrets

from flask import Response, current_app, g, request
from sqlalchemy import select, update

from . import db, tokens
from .authn import Identity
from .models import SsoSession, Token, digest, now

_TOUCH_EVERY = 60  # seconds between last_seen_at writes for one session


def cookie_name() -> str:
    """``__Host-idp_sso`` behind https, ``idp_sso`` on plain-http development issuers."""
    return "__Host-idp_sso" if _secure() else "idp_sso"


def _secure() -> bool:
    return current_app.config["ISSUER"].startswith("https://")


def current() -> SsoSession | None:
    """The live SSO session of this browser, if any (cached for the request)."""
    if "idp_sso" in g:
        return g.idp_sso
    found = None
    secret = request.cookies.get(cookie_name(), "")
    if 20 <= len(secret) <= 100:
        candidate = db.session().scalar(
            select(SsoSession).where(SsoSession.secret_hash == digest(secret))
        )
        moment = now()
        idle = current_app.config["REMEMBER_IDLE_SECONDS" if candidate and candidate.remember
                                  else "SESSION_IDLE_SECONDS"]
        if (candidate is not None and candidate.ended_at is None
                and candidate.expires_at > moment and moment - candidate.last_seen_at < idle
                and candidate.account.status == "active"):
            found = candidate
            if moment - candidate.last_seen_at >= _TOUCH_EVERY:
                candidate.last_seen_at = moment
                db.session().commit()
    g.idp_sso = found
    return found


def start(identity: Identity, remember: bool) -> tuple[SsoSession, str]:
    """Open a new SSO session for ``identity``, ending this browser's previous one."""
    previous = current()
    if previous is not None:
        end(previous, commit=False)
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
        user_agent=(request.user_agent.string or "")[:300],
        created_at=moment,
        last_seen_at=moment,
        expires_at=moment + lifetime,
    )
    db.session().add(sso)
    db.session().commit()
    g.idp_sso = sso
    return sso, secret


def end(sso: SsoSession | None, commit: bool = True) -> None:
    """End one SSO session: revoke the tokens issued in it, notify relying parties.

    Refresh tokens issued in the session end with it, offline_access ones included: a
    logout here means "this person's sessions with this provider are over".
    """
    if sso is None:
        return
    from . import backchannel

    ended = db.session().execute(
        update(SsoSession).where(SsoSession.id == sso.id, SsoSession.ended_at.is_(None))
        .values(ended_at=now())
    ).rowcount
    if ended:
        for family in set(db.session().scalars(select(Token.family_id)
                                               .where(Token.sid == sso.sid))):
            tokens.revoke_family(family)
        backchannel.enqueue(sso)
    if commit:
        db.session().commit()
    if g.get("idp_sso") is not None and g.idp_sso.id == sso.id:
        g.idp_sso = None


def forget_current() -> None:
    """Drop this request's cached session (after sessions were ended in bulk)."""
    g.pop("idp_sso", None)


def set_cookie(response: Response, sso: SsoSession, secret: str) -> None:
    """Give the browser the session secret; persistent only when remembered."""
    response.set_cookie(
        cookie_name(),
        secret,
        max_age=(sso.expires_at - sso.auth_time) if sso.remember else None,
        path="/",
        secure=_secure(),
        httponly=True,
        samesite="Lax",
    )


def clear_cookie(response: Response) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(cookie_name(), path="/", secure=_secure(), httponly=True,
                           samesite="Lax")
