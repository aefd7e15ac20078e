"""The browser's side of signing in and out: the one way every path signs a person in.

Every first step (a local password, a password checked by itm:PORTAL, itm:PORTAL's
OpenID provider, an activation link, a reset link, a passkey alone) goes on with
``proceed``: an account with a second factor, whose first step brought none, is sent to
the second step (the person it confirmed waits in the browser's session, with a login
attempt of its own, for at most ``SECOND_STEP_SECONDS``); an account of a VHS that
requires a factor, without one, is signed in and sent to set one up first. Every
sign-in ends in ``finish``, which
- renews the browser session (a new SSO session and secret, the old session ended, the
  Flask session emptied: a new CSRF token, nothing planted before);
- voids open reset links (the person knows a password again);
- marks the login fresh for the authorization request it resumes (prompt=login, max_age);
- starts the account's failure count anew and remembers this browser for the account
  (the device cookie of ``idp.web.throttle``);
- writes the audit event, and sets the cookie.
The cookie is HttpOnly, SameSite=Lax, Secure (with the ``__Host-`` prefix) when the issuer
is https; persistent only with "Angemeldet bleiben".
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from urllib.parse import parse_qs, urlsplit

from flask import Response, current_app, g, redirect, request, session, url_for

from .. import audit, db, factors, links, sessions
from ..identity import Identity, Refusal, Via
from ..models import Account, Purpose, SsoSession, digest, now
from . import throttle

FRESH_LOGIN_SECONDS = 300  # how long a just-finished login satisfies prompt=login / max_age
SECOND_STEP_SECONDS = 600  # how long the second step waits for its first


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


def proceed(identity: Identity, *, remember: bool, next_url: str | None,
            landing: Response | None = None) -> Response:
    """After a first step: the second step, or the sign-in (and then, where the VHS
    requires a factor the account lacks, its setup before anything else)."""
    if not factors.satisfied(identity.amr) and factors.has_any(identity.account_id):
        return _second_step(identity, remember, next_url, step_up=False)
    first = None
    account = db.session().get(Account, identity.account_id)
    if not factors.satisfied(identity.amr) and factors.required(account):
        first = url_for("factors.page", next=next_url or None)  # "bei der nächsten Anmeldung"
    return finish(identity, remember=remember, next_url=next_url, landing=landing, first=first)


def step_up(sso: SsoSession, next_url: str | None) -> Response:
    """A signed-in person whose session lacks the factor a policy asks for: the second
    step for this session, or setting up a factor first."""
    if not factors.has_any(sso.account_id):
        return redirect(url_for("factors.page", next=next_url or None), 303)
    identity = Identity.of(sso.account, Via.SESSION, tuple(sso.amr))
    return _second_step(identity, sso.remember, next_url, step_up=True)


def _second_step(identity: Identity, remember: bool, next_url: str | None,
                 step_up: bool) -> Response:
    """Let ``identity`` wait in the browser's session for its second factor: a login
    attempt of its own (the throttle counts its wrong codes), for SECOND_STEP_SECONDS."""
    session["second_step"] = Pending(identity, remember, next_url, now(),
                                     secrets.token_urlsafe(16), step_up).stored()
    return redirect(url_for("second.page"), 303)


@dataclass(frozen=True)
class Pending:
    """A person between the first and the second step, as the browser's session keeps
    them: who the first step confirmed, for which request, since when, under which login
    attempt (the code throttle counts per attempt), and whether a session is stepping up."""

    identity: Identity
    remember: bool
    next: str | None
    at: int
    attempt: str
    step_up: bool

    def stored(self) -> dict:
        """As the (signed) session cookie holds it."""
        return {"identity": asdict(self.identity), "remember": self.remember,
                "next": self.next, "at": self.at, "attempt": self.attempt,
                "step_up": self.step_up}

    @classmethod
    def read(cls, stored) -> Pending | None:
        """Back from the session; None for anything else than what ``stored`` wrote."""
        try:
            values = dict(stored["identity"])
            values["amr"] = tuple(values["amr"])
            return cls(Identity(**values), bool(stored["remember"]), stored["next"],
                       int(stored["at"]), str(stored["attempt"]), bool(stored["step_up"]))
        except (KeyError, TypeError, ValueError):
            return None


def waiting() -> Pending | None:
    """The second step this browser is at, if it is still open."""
    pending = Pending.read(session.get("second_step"))
    if pending is None or now() - pending.at > SECOND_STEP_SECONDS:
        return None
    return pending


def second_step_done(pending: Pending, methods: tuple[str, ...], source: str,
                     first: str | None = None) -> Response:
    """The second step succeeded with ``methods`` (RFC 8176): sign in, or raise the session
    that stepped up (its tokens stay; its ``amr`` gains the factor). ``first``: a page of
    ours to see before going on."""
    session.pop("second_step", None)
    identity = pending.identity
    amr = tuple(factors.with_factor(identity.amr, methods))
    if pending.step_up:  # only the session that stepped up gains the factor
        sso = current()
        if sso is None or sso.account_id != identity.account_id:
            return redirect(url_for("views.login", next=pending.next or None), 303)
        raise_session(sso, amr, pending.next, source)
        return redirect(first or pending.next or url_for("account.page"), 303)
    identity = Identity(**{**asdict(identity), "amr": amr})
    return finish(identity, remember=bool(pending.remember), next_url=pending.next,
                  source=source, first=first)


def raise_session(sso: SsoSession, amr, next_url: str | None, source: str) -> None:
    """Add a just-proven factor to this browser's session (for ``next_url``, which it may
    resume as a fresh login if the login itself was one)."""
    sso.amr = list(amr)
    if next_url and now() - sso.auth_time <= FRESH_LOGIN_SECONDS:
        session["fresh_login"] = [digest(next_url), now()]
    audit.record("step_up", vhs=sso.account.vhs.slug, sub=sso.account.sub, source=source,
                 client=client_of(next_url))


def finish(identity: Identity, *, remember: bool, next_url: str | None,
           landing: Response | None = None, first: str | None = None,
           source: str | None = None) -> Response:
    """Sign a confirmed person in and send the browser on: to ``first`` (a page of ours
    to see before anything else), else to ``next_url`` (a pending authorization), else to
    ``landing``, else to the start page. ``source``: the second factor, for the trail."""
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
    claim = throttle.claim_tag(identity.vhs, identity.address)
    throttle.throttle().sign_in_succeeded(claim, request.remote_addr or "")
    audit.record("login", vhs=identity.vhs, sub=identity.sub, source=identity.via,
                 client=client_of(next_url), detail=source and f"second factor: {source}")
    target = first or next_url
    response = redirect(target, 303) if target else (
        landing or redirect(url_for("views.index"), 303))
    _set_cookie(response, sso, secret)
    throttle.remember_device(response, claim)
    return response


def refused(refusal: Refusal, next_url: str | None = None) -> None:
    """Record a refused sign-in."""
    audit.record("login_failed", vhs=refusal.vhs, address=refusal.address,
                 source=refusal.via, reason=refusal.reason, client=client_of(next_url))


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


PENDING_CHANGE = "console_pending"  # a console change waiting for this sign-in (sealed)


def _renew_browser_session() -> None:
    """A new CSRF token and nothing else from before the sign-in, but the console change
    that asked for it (``admin.gate``: it is bound to the account and checked again)."""
    waiting = session.get(PENDING_CHANGE)
    session.clear()
    if waiting is not None:
        session[PENDING_CHANGE] = waiting


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
