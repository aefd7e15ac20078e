"""The browser's side of signing in and out: the one way every path signs a person in.

Every sign-in path (a local password, a password checked by itm:PORTAL, itm:PORTAL's
OpenID provider, an activation link, a reset link) ends in ``finish``, which
- renews the browser session (a new SSO session and secret, the old session ended, the
  Flask session emptied: a new CSRF token, nothing planted before);
- voids open reset links (the person knows a password again);
- marks the login fresh for the authorization request it resumes (prompt=login, max_age);
- starts the account's failure count anew and remembers this browser for the account
  (the device cookie of ``idp.throttle``);
- writes the audit event, and sets the cookie.
The cookie is HttpOnly, SameSite=Lax, Secure (with the ``__Host-`` prefix) when the issuer
is https; persistent only with "Angemeldet bleiben".
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from flask import Response, current_app, g, redirect, request, session, url_for

from . import audit, links, sessions, throttle
from .identity import Identity, Refusal
from .models import Purpose, SsoSession, digest, now

FRESH_LOGIN_SECONDS = 300  # how long a just-finished login satisfies prompt=login / max_age


def cookie_name() -> str:
    """``__Host-idp_sso`` behind https, ``idp_sso`` on plain-http development issuers."""
    return "__Host-idp_sso" if _secure() else "idp_sso"


def _secure() -> bool:
    return current_app.config["ISSUER"].startswith("https://")


def current() -> SsoSession | None:
    """The live SSO session of this browser, if any (looked up once per request)."""
    if "idp_sso" not in g:
        g.idp_sso = sessions.find(request.cookies.get(cookie_name(), ""))
    sso = g.idp_sso
    return sso if sso is not None and sso.ended_at is None else None


def finish(identity: Identity, *, remember: bool, next_url: str | None,
           landing: Response | None = None) -> Response:
    """Sign a confirmed person in and send the browser on: to ``next_url`` (a pending
    authorization), else to ``landing``, else to the start page."""
    if not identity.confirmed:
        raise ValueError("only a confirmed identity signs in")
    previous = current()
    if previous is not None:
        sessions.end(previous)
    _renew_browser_session()
    sso, secret = sessions.start(identity, remember, request.user_agent.string or "")
    g.idp_sso = sso
    links.void(identity.account_id, Purpose.RESET)
    if next_url:
        session["fresh_login"] = [digest(next_url), now()]
    account = throttle.account_key(identity.vhs, identity.address)
    throttle.throttle().sign_in_succeeded(account, request.remote_addr or "")
    audit.record("login", vhs=identity.vhs, sub=identity.sub, source=identity.via,
                 client=client_of(next_url))
    response = redirect(next_url, 303) if next_url else (
        landing or redirect(url_for("views.index"), 303))
    _set_cookie(response, sso, secret)
    throttle.remember_device(response, account)
    return response


def refused(refusal: Refusal, next_url: str | None = None) -> None:
    """Record a refused sign-in."""
    audit.record("login_failed", vhs=refusal.vhs, address=refusal.address,
                 source=refusal.via, reason=refusal.reason, client=client_of(next_url))


CONSOLE_PAGE = re.compile(r"^/admin(/[A-Za-z0-9._~%/-]*)?(\?[A-Za-z0-9._~%&=+-]*)?$")


def console_page(value: str | None) -> str | None:
    """A console page (``/admin...``) a login or a console form may return to: a path of
    ours, never another site, no dot segments; else None."""
    if (value and len(value) <= 2000 and CONSOLE_PAGE.match(value) and "//" not in value
            and "/." not in value):
        return value
    return None


def client_of(next_url: str | None) -> str | None:
    """The client of the authorization request a sign-in resumes, if any."""
    if not next_url:
        return None
    return (parse_qs(urlsplit(next_url).query).get("client_id") or [None])[0]


def was_fresh_login(authorization_url: str) -> bool:
    """Whether the person just signed in to resume exactly ``authorization_url`` (once)."""
    marker = session.pop("fresh_login", None)
    return bool(marker and marker[0] == digest(authorization_url)
                and now() - marker[1] <= FRESH_LOGIN_SECONDS)


def end_current() -> None:
    """End this browser's session, if it has one (RP-initiated logout, "Abmelden")."""
    sso = current()
    if sso is not None:
        sessions.end(sso)
        audit.record("logout", vhs=sso.account.vhs.slug, sub=sso.account.sub)
    g.idp_sso = None


def sign_out(response: Response) -> Response:
    """End this browser's session (if any) and forget its cookie."""
    end_current()
    forget_cookie(response)
    return response


def _renew_browser_session() -> None:
    session.clear()  # a new CSRF token and nothing else from before the sign-in


def _set_cookie(response: Response, sso: SsoSession, secret: str) -> None:
    response.set_cookie(
        cookie_name(),
        secret,
        max_age=(sso.expires_at - sso.auth_time) if sso.remember else None,
        path="/",
        secure=_secure(),
        httponly=True,
        samesite="Lax",
    )


def forget_cookie(response: Response) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(cookie_name(), path="/", secure=_secure(), httponly=True,
                           samesite="Lax")
