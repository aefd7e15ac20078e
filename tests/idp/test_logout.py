"""Single sign-on across two relying parties, logout everywhere through OIDC Back-Channel
Logout 1.0, and session lifetimes with an injected clock."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import update

from idp import backchannel, db
from idp.models import LogoutDelivery

from ..helpers import CALLBACK, PASSWORD, Browser, RelyingParty, form_field, post_login, sign_in
from ..worlds import closed_port

pytestmark = pytest.mark.e2e


class Receiver:
    """A relying party's back-channel logout endpoint: a real HTTP server on loopback."""

    def __init__(self, port: int = 0):
        received = self.tokens = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                received.append(parse_qs(body)["logout_token"][0])
                self.send_response(200)
                self.send_header("Cache-Control", "no-store")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = [Receiver(), Receiver()]
    yield made
    for receiver in made:
        receiver.stop()


def register(live, client_id, backchannel_uri):
    output = live.cli("clients", "add", client_id, "--first-party", "--redirect-uri", CALLBACK,
                      "--post-logout-redirect-uri", "http://127.0.0.1:8765/bye",
                      "--grant", "authorization_code", "--grant", "refresh_token",
                      "--scope", "openid email offline_access",
                      "--backchannel-logout-uri", backchannel_uri)
    return output.strip().splitlines()[-1].rsplit(" ", 1)[1]


def deliver(live):
    with live.app.app_context():
        return backchannel.deliver_due()


def verify_logout_token(live, token, client_id):
    jwks = KeySet.import_key_set(requests.get(live.url + "/jwks.json", timeout=5).json())
    decoded = jwt.decode(token, jwks, algorithms=["RS256", "ES256"])
    registry = jwt.JWTClaimsRegistry(iss={"essential": True, "value": live.url},
                                     aud={"essential": True, "value": client_id},
                                     iat={"essential": True}, jti={"essential": True})
    registry.validate(decoded.claims)
    assert decoded.header["typ"] == "logout+jwt"
    assert "http://schemas.openid.net/event/backchannel-logout" in decoded.claims["events"]
    assert "nonce" not in decoded.claims
    return decoded.claims


def test_sign_in_once_log_out_everywhere(live, browser, receivers):
    first_secret = register(live, "vhskoop", receivers[0].url)
    second_secret = register(live, "feedback", receivers[1].url)
    first = RelyingParty(live.url, "vhskoop", first_secret, scope="openid email offline_access")
    first_token = first.fetch_token(sign_in(live, browser, first))
    second = RelyingParty(live.url, "feedback", second_secret,
                          scope="openid email offline_access")
    silent = browser.get(second.authorization_url())  # single sign-on: no password asked
    assert silent.headers["Location"].startswith(CALLBACK)
    second_token = second.fetch_token(silent.headers["Location"])
    sid = second.verify_id_token(second_token)["sid"]
    assert first.verify_id_token(first_token)["sid"] == sid

    logout = browser.get("/end_session", params={
        "id_token_hint": second_token["id_token"],
        "post_logout_redirect_uri": "http://127.0.0.1:8765/bye"})
    assert logout.status_code == 302  # the person's logout does not wait for the RPs
    assert deliver(live)["delivered"] == 2
    for receiver, client_id in zip(receivers, ("vhskoop", "feedback"), strict=True):
        [token] = receiver.tokens
        claims = verify_logout_token(live, token, client_id)
        assert claims["sid"] == sid and claims["sub"] == first.verify_id_token(first_token)["sub"]
    with pytest.raises(Exception, match="invalid_grant"):
        first.refresh(first_token["refresh_token"])
    again = RelyingParty(live.url, "vhskoop", first_secret)
    assert "/login?" in browser.get(again.authorization_url()).headers["Location"]


def test_withdrawing_a_service_on_mein_zugang_ends_its_sessions_too(live, browser,
                                                                    receivers):
    """"Zugriff entziehen" revokes the service's tokens and tells the service (and only it)
    by back-channel logout, so its own session ends; the person stays signed in here."""
    first_secret = register(live, "vhskoop", receivers[0].url)
    second_secret = register(live, "feedback", receivers[1].url)
    first = RelyingParty(live.url, "vhskoop", first_secret, scope="openid email offline_access")
    claims = first.verify_id_token(first.fetch_token(sign_in(live, browser, first)))
    second = RelyingParty(live.url, "feedback", second_secret,
                          scope="openid email offline_access")
    second.fetch_token(browser.get(second.authorization_url()).headers["Location"])
    page = browser.get("/account").text
    token = form_field(page, "csrf_token")
    assert browser.post("/account/clients/vhskoop/revoke",
                        {"csrf_token": token}).status_code == 303
    assert deliver(live)["delivered"] == 1
    [notice] = receivers[0].tokens
    assert receivers[1].tokens == []
    told = verify_logout_token(live, notice, "vhskoop")
    assert told["sid"] == claims["sid"] and told["sub"] == claims["sub"]
    assert "Sie sind angemeldet" in browser.get("/").text


def test_an_unreachable_relying_party_gets_the_logout_later(live, browser):
    port = closed_port()
    secret = register(live, "vhskoop", f"http://127.0.0.1:{port}/backchannel")
    rp = RelyingParty(live.url, "vhskoop", secret, scope="openid email offline_access")
    token = rp.fetch_token(sign_in(live, browser, rp))
    browser.get("/end_session", params={"id_token_hint": token["id_token"]})
    assert deliver(live)["retried"] == 1
    receiver = Receiver(port)
    try:
        with live.app.app_context():
            db.session().execute(update(LogoutDelivery).values(next_attempt_at=0))
            db.session().commit()
        assert deliver(live)["delivered"] == 1
        verify_logout_token(live, receiver.tokens[0], "vhskoop")
        assert deliver(live) == {"delivered": 0, "retried": 0, "failed": 0}
    finally:
        receiver.stop()


def test_discovery_advertises_back_channel_logout(live):
    meta = requests.get(live.url + "/.well-known/openid-configuration", timeout=5).json()
    assert meta["backchannel_logout_supported"] is True
    assert meta["backchannel_logout_session_supported"] is True


@pytest.mark.parametrize(("remember", "idle_ok", "idle_over", "absolute_over"), [
    (False, 2 * 3600 - 100, 2 * 3600 + 100, 12 * 3600 + 1),
    (True, 14 * 86400 - 100, 14 * 86400 + 100, 30 * 86400 + 1),
])
def test_sessions_end_by_idle_and_by_absolute_time(make_app, tenant, remember, idle_ok,
                                                   idle_over, absolute_over):
    moment = [1_800_000_000]
    app = make_app(CLOCK=lambda: moment[0])
    client = app.test_client()
    assert post_login(client, **({"remember": "y"} if remember else {})).status_code == 303
    start = moment[0]

    def signed_in() -> bool:
        return "Sie sind angemeldet" in client.get("/").get_data(as_text=True)

    moment[0] = start + idle_ok
    assert signed_in()  # and this visit counts as activity
    moment[0] = start + idle_ok + idle_over
    assert not signed_in()  # idle too long
    moment[0] = start
    assert post_login(client, **({"remember": "y"} if remember else {})).status_code == 303
    step = idle_ok // 2
    while moment[0] + step < start + absolute_over:
        moment[0] += step
        assert signed_in()
    moment[0] = start + absolute_over
    assert not signed_in()  # active all along, but the absolute maximum is over


def test_prompt_none_paths_with_two_clients(live, browser):
    register(live, "vhskoop", "http://127.0.0.1:1/unused")
    rp = RelyingParty(live.url, "vhskoop", "unused-secret-for-authorize-only")
    assert "login_required" in browser.get(rp.authorization_url(prompt="none")).headers[
        "Location"]
    Browser.login(browser, None, "straubing", "anna.muster@vhs-straubing.de", PASSWORD)
    assert "code=" in browser.get(RelyingParty(live.url, "vhskoop", "x").authorization_url(
        prompt="none")).headers["Location"]


def test_a_relying_party_asking_for_another_vhs_gets_a_login_for_it(live, browser):
    live.cli("vhs", "add", "passau", "--name", "vhs Passau", "--onboarded")
    live.cli("accounts", "add", "--vhs", "passau", "--email", "anna.muster@vhs-straubing.de",
             "--password-stdin", input=PASSWORD + "\n")
    register(live, "vhskoop", "http://127.0.0.1:1/unused")
    first = RelyingParty(live.url, "vhskoop", "x")
    sign_in(live, browser, first)
    same = browser.get(RelyingParty(live.url, "vhskoop", "x").authorization_url(
        vhs="straubing"))
    assert same.headers["Location"].startswith(CALLBACK)
    other = RelyingParty(live.url, "vhskoop", "x")
    response = browser.get(other.authorization_url(vhs="passau"))
    assert "/login?" in response.headers["Location"]
    page = browser.get(response.headers["Location"]).text
    assert re.search(r'<option [^>]*selected value="passau">', page)
    assert "login_required" in browser.get(RelyingParty(live.url, "vhskoop", "x")
                                           .authorization_url(vhs="passau", prompt="none")
                                           ).headers["Location"]
    done = browser.login(response.headers["Location"], "passau",
                         "anna.muster@vhs-straubing.de", PASSWORD)
    callback = browser.get(done.headers["Location"]).headers["Location"]
    assert callback.startswith(CALLBACK) and "code=" in callback
