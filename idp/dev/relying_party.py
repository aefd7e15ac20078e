"""The demo's relying parties ("vhsKOOP", "itm:FEEDBACK"): each a small Flask app of its
own, with its own session cookie, that signs in through the provider as any relying party
would, with Authlib's Flask client (code flow, PKCE, nonce, ID token checked against the
JWKS), and takes OIDC Back-Channel Logout notices, which its page then shows. vhsKOOP is
also a Shared Signals push receiver (RFC 8935): it shows the security events it got, in
words, and ends its own session on session-revoked and account-disabled.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import urlencode

import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, render_template, request, session
from flask_babel import lazy_gettext as _l
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .. import labels, signals
from ..web import i18n

EVENT = "http://schemas.openid.net/event/backchannel-logout"
ROOT = Path(__file__).resolve().parent.parent  # idp/: its templates and translations


WORDS = {signals.SESSION_REVOKED: _l("Sitzung beendet"),
         signals.CREDENTIAL_CHANGE: _l("Anmeldedaten geändert"),
         signals.ACCOUNT_DISABLED: _l("Zugang gesperrt"),
         signals.ACCOUNT_ENABLED: _l("Zugang wieder offen"),
         signals.ACCOUNT_PURGED: _l("Zugang gelöscht"),
         signals.IDENTIFIER_CHANGED: _l("neue Adresse"),
         signals.VERIFICATION: _l("Verbindung geprüft")}


class LoggedOut:
    """The sessions the provider said have ended (sid -> when), the people it disabled
    (sub -> when), and the security events it sent (newest first), kept in memory."""

    def __init__(self):
        self._lock = threading.Lock()
        self.sids: dict[str, int] = {}
        self.subs: dict[str, int] = {}
        self.people: dict[str, str] = {}  # sub -> name and address, from the sign-ins
        self.events: deque = deque(maxlen=30)

    def add(self, sid: str) -> None:
        with self._lock:
            self.sids[sid] = int(time.time())

    def when(self, sid: str | None) -> int | None:
        with self._lock:
            return self.sids.get(sid or "")

    def ended(self, claims: dict | None, sid: str | None) -> int | None:
        """When the provider ended this session, or disabled its person after it began."""
        with self._lock:
            disabled = self.subs.get((claims or {}).get("sub", ""))
            if disabled and disabled >= int((claims or {}).get("auth_time", 0)):
                return disabled
            return self.sids.get(sid or "")

    def heard(self, claims: dict) -> None:
        """A security event: remembered in words, and acted on."""
        [(event, details)] = claims["events"].items()
        subject = claims["sub_id"]
        sub = (subject.get("user") or subject).get("sub")
        with self._lock:
            if event == signals.SESSION_REVOKED and subject.get("session"):
                self.sids[subject["session"]["id"]] = int(time.time())
            elif event == signals.ACCOUNT_DISABLED and sub:
                self.subs[sub] = int(time.time())
            elif event == signals.ACCOUNT_ENABLED and sub:
                self.subs.pop(sub, None)
            who = self.people.get(sub or "", subject.get("email") or sub or "–")
            what = WORDS.get(event, event)
            extra = details.get("credential_type") or details.get("new-value") or ""
            self.events.appendleft({"at": int(claims["iat"]), "what": what, "who": who,
                                    "extra": extra})


def relying_party(*, key: str, title: str, client_id: str, issuer: str, base: str,
                  logo: str, other: tuple[str, str, str]) -> Flask:
    """A relying party served at ``base`` (a full URL), signing in at ``issuer``; ``other``
    is the other service's name, home page and initiate-login URL (signed in at once)."""
    app = Flask(f"idp.dev.{key}", root_path=str(ROOT), static_folder=None)
    app.config.update(SECRET_KEY=secrets.token_urlsafe(32), SESSION_COOKIE_NAME=f"demo_{key}",
                      SESSION_COOKIE_PATH=f"/demo/{key}/", SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_HTTPONLY=True)
    i18n.init_app(app)
    app.add_template_filter(labels.moment, "when")
    oauth = OAuth(app)
    oauth.register("idp", client_id=client_id,
                   server_metadata_url=issuer + "/.well-known/openid-configuration",
                   client_kwargs={"scope": "openid profile email",
                                  "code_challenge_method": "S256",
                                  "token_endpoint_auth_method": "none"})
    logged_out = LoggedOut()

    def page(**values):
        return render_template("demo/service.html", title=title, logo=logo, base=base,
                               other=other, events=list(logged_out.events), **values)

    @app.get("/")
    def home():
        """Who is signed in here (the ID token's claims), or the way to sign in."""
        ended = logged_out.ended(session.get("claims"), session.get("sid"))
        if ended:
            session.clear()
        return page(person=session.get("claims"), ended=ended,
                    signed_out=request.args.get("signed_out"))

    @app.get("/login")
    def login():
        """Off to the provider's /authorize (PKCE, state, nonce)."""
        return oauth.idp.authorize_redirect(base + "/callback")

    @app.get("/initiate-login")
    def initiate_login():
        """OIDC Core 1.0 section 4, third-party initiated login: the provider (or a link)
        asks this service to start a sign-in; only for its own issuer."""
        if request.args.get("iss") != issuer:
            return page(person=None, error="unknown issuer"), 400
        hint = request.args.get("login_hint", "")[:254]
        return oauth.idp.authorize_redirect(base + "/callback",
                                            **({"login_hint": hint} if hint else {}))

    @app.get("/callback")
    def callback():
        """Redeem the code, check the ID token, keep its claims."""
        try:
            token = oauth.idp.authorize_access_token()
        except Exception as error:  # noqa: BLE001 - any refusal is shown, not raised
            return page(person=None, error=type(error).__name__), 400
        claims = dict(token["userinfo"])
        logged_out.people[claims["sub"]] = f"{claims.get('name') or ''} " \
                                           f"({claims.get('email') or claims['sub']})".strip()
        session.clear()
        session.update(claims=claims, sid=claims.get("sid"), id_token=token["id_token"])
        return redirect(base + "/")

    @app.get("/logout")
    def logout():
        """RP-initiated logout: the provider ends the session everywhere."""
        hint = session.get("id_token")
        session.clear()
        metadata = oauth.idp.load_server_metadata()
        query = {"post_logout_redirect_uri": base + "/?signed_out=1", "client_id": client_id}
        if hint:
            query["id_token_hint"] = hint
        return redirect(metadata["end_session_endpoint"] + "?" + urlencode(query))

    @app.post("/backchannel-logout")
    def backchannel_logout():
        """OIDC Back-Channel Logout 1.0 section 2.6: check the token, end the session."""
        try:
            keys = KeySet.import_key_set(requests.get(issuer + "/jwks.json", timeout=5).json())
            claims = jwt.decode(request.form.get("logout_token", ""), keys,
                                algorithms=["RS256", "ES256"]).claims
        except (JoseError, ValueError, requests.RequestException):
            return {"error": "invalid_request"}, 400
        fresh = abs(time.time() - int(claims.get("iat", 0))) < 300
        if (claims.get("iss") != issuer or claims.get("aud") != client_id or not fresh
                or EVENT not in (claims.get("events") or {}) or "nonce" in claims
                or not claims.get("sid")):
            return {"error": "invalid_request"}, 400
        logged_out.add(claims["sid"])
        return "", 200

    @app.post("/ssf/events")
    def security_event():
        """A Shared Signals push (RFC 8935): a SET, checked as SSF 1.0 section 4 asks."""
        try:
            keys = KeySet.import_key_set(requests.get(issuer + "/jwks.json", timeout=5).json())
            token = jwt.decode(request.get_data(as_text=True), keys,
                               algorithms=["RS256", "ES256"])
        except (JoseError, ValueError, requests.RequestException):
            return {"err": "invalid_request", "description": "not a signed SET"}, 400
        claims = token.claims
        if token.header.get("typ") != "secevent+jwt" or claims.get("iss") != issuer:
            return {"err": "invalid_issuer", "description": "not from this issuer"}, 400
        if claims.get("aud") != client_id or len(claims.get("events") or {}) != 1:
            return {"err": "invalid_audience", "description": "not for this service"}, 400
        logged_out.heard(claims)
        return "", 202

    return app
