"""``vhskoop-idp demo``: demo data and a small relying party, for trying the provider.

The demo relying party lives under /demo/ in the same development server, but talks to
the provider only as any relying party would: a browser redirect to /authorize, then
HTTP calls to /token, /jwks.json and /userinfo with Authlib's client. It is registered
only when the app was built by the demo command.
"""

from __future__ import annotations

import secrets
import socket
from email import message_from_bytes, policy
from urllib.parse import urlencode

import requests
from aiosmtpd.controller import Controller
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from .. import accounts, db, eligibility, mail, tenants
from ..clients import Registration, register
from ..models import Account, Client, Vhs

VHS = ("musterstadt", "vhs Musterstadt")
ADDRESS = "demo@vhs-musterstadt.de"
NEW_ADDRESS = "neu@vhs-musterstadt.de"
PASSWORD = "Sonnige Tage am Donauufer"
CLIENT_ID = "demo-rp"

bp = Blueprint("demo", __name__, url_prefix="/demo")
COOKIE = "demo_rp"  # the relying party's own state, apart from the provider's session


class DemoMailbox:
    """The demo VHS's mail server: a real SMTP server on loopback (aiosmtpd) whose mails
    the page /demo/mails shows, so "Neuer Zugang" can be tried without a mail account."""

    def __init__(self):
        self.messages: list = []
        with socket.socket() as probe:  # a free loopback port (aiosmtpd needs one up front)
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        """Stop the mail server."""
        self.controller.stop()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def seed(mailbox: DemoMailbox | None = None) -> list[str]:
    """Create what is missing (idempotent) and say how to use it."""
    issuer = current_app.config["ISSUER"]
    if not db.session().scalar(select(Vhs.id).where(Vhs.slug == VHS[0])):
        # The demo VHS's "Verwaltungsprogramm" is a pushed list with the demo person.
        vhs = tenants.add(VHS[0], VHS[1], onboarded=True, adapter="directory")
        eligibility.replace_directory(vhs, [{"email": ADDRESS, "id": "1",
                                             "name": "Demo Mitarbeiterin", "active": True,
                                             "released": True}])
    if mailbox is not None:
        current_app.extensions["idp.demo_mailbox"] = mailbox
        vhs = db.session().scalar(select(Vhs).where(Vhs.slug == VHS[0]))
        mail.set_settings(vhs, mail.MailSettings(host="127.0.0.1", port=mailbox.port,
                                                 security="none",
                                                 sender="info@vhs-musterstadt.de"))
        eligibility.replace_directory(vhs, [
            {"email": ADDRESS, "id": "1", "name": "Demo Mitarbeiterin", "active": True,
             "released": True},
            {"email": NEW_ADDRESS, "id": "2", "name": "Neue Kollegin", "active": True,
             "released": True}])
    if not db.session().scalar(select(Account.id).where(Account.address == ADDRESS)):
        accounts.add_local(VHS[0], ADDRESS, PASSWORD, name="Demo Mitarbeiterin")
    if not db.session().scalar(select(Client.id).where(Client.client_id == CLIENT_ID)):
        register(Registration(
            client_id=CLIENT_ID,
            redirect_uris=[f"{issuer}/demo/callback"],
            post_logout_redirect_uris=[f"{issuer}/demo/"],
            public=True,
            first_party=True,
            grants=["authorization_code", "refresh_token"],
            scope="openid profile email offline_access",
        ))
    return [
        f"vhskoop-idp demo at {issuer}",
        f"  try it:    {issuer}/demo/  (a relying party that signs in through the provider)",
        f"  login:     vhs: {VHS[1]}   e-mail: {ADDRESS}   password: {PASSWORD}",
        f"  discovery: {issuer}/.well-known/openid-configuration",
        f"  new access: {NEW_ADDRESS} at {VHS[1]} may ask for an account (Neuer Zugang);"
        f" the mails arrive at {issuer}/demo/mails",
    ]


def _oauth() -> OAuth2Session:
    issuer = current_app.config["ISSUER"]
    return OAuth2Session(CLIENT_ID, scope="openid profile email",
                         redirect_uri=f"{issuer}/demo/callback", code_challenge_method="S256",
                         token_endpoint_auth_method="none")


@bp.get("/")
def home():
    """The demo relying party's start page."""
    return render_template("demo.html", result=None)


@bp.get("/start")
def start():
    """Send the browser to /authorize with PKCE, state and nonce."""
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url, state = _oauth().create_authorization_url(
        current_app.config["ISSUER"] + "/authorize", code_verifier=verifier, nonce=nonce)
    response = redirect(url)
    response.set_cookie(COOKIE, _serializer().dumps(
        {"verifier": verifier, "nonce": nonce, "state": state}), httponly=True,
        samesite="Lax", path="/demo/", max_age=600)
    return response


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="demo-rp")


@bp.get("/callback")
def callback():
    """Exchange the code over HTTP, verify the ID token against the JWKS, ask userinfo."""
    try:
        pending = _serializer().loads(request.cookies.get(COOKIE, ""), max_age=600)
    except BadSignature:
        pending = None
    issuer = current_app.config["ISSUER"]
    if not pending or request.args.get("state") != pending["state"]:
        abort(400)
    if "error" in request.args or request.args.get("iss") != issuer:
        return render_template("demo.html", result={"error": request.args.get("error")})
    client = _oauth()
    token = client.fetch_token(issuer + "/token", authorization_response=request.url,
                               code_verifier=pending["verifier"], state=pending["state"])
    jwks = KeySet.import_key_set(requests.get(issuer + "/jwks.json", timeout=5).json())
    decoded = jwt.decode(token["id_token"], jwks, algorithms=["RS256", "ES256"])
    claims = CodeIDToken(decoded.claims, decoded.header,
                         options={"iss": {"essential": True, "value": issuer},
                                  "aud": {"essential": True, "value": CLIENT_ID}},
                         params={"nonce": pending["nonce"], "client_id": CLIENT_ID,
                                 "access_token": token["access_token"]})
    claims.validate(leeway=5)
    userinfo = client.get(issuer + "/userinfo", timeout=5).json()
    return render_template("demo.html", result={
        "claims": dict(claims), "header": decoded.header, "userinfo": userinfo,
        "logout": issuer + "/end_session?" + urlencode(
            {"id_token_hint": token["id_token"],
             "post_logout_redirect_uri": issuer + "/demo/"})})


@bp.get("/mails")
def mails():
    """What the demo VHS's mail server received, newest first."""
    mailbox = current_app.extensions.get("idp.demo_mailbox")
    received = [] if mailbox is None else [
        {"to": m["To"], "subject": m["Subject"], "date": m["Date"],
         "text": m.get_body(("plain",)).get_content()} for m in reversed(mailbox.messages)]
    return render_template("demo_mails.html", mails=received)


def init_app(app: Flask) -> None:
    """Add the demo relying party to an app (only ``vhskoop-idp demo`` does)."""
    app.register_blueprint(bp)
