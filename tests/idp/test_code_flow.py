"""The code flow end to end: a real HTTP server, a person's browser, Authlib's client as RP."""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import event

from idp import db

from ..helpers import PASSWORD, Browser, LiveServer, RelyingParty, add_client, query, sign_in

pytestmark = pytest.mark.e2e






def test_confidential_client_signs_in_with_pkce_nonce_and_verified_id_token(live, browser):
    secret = add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", secret)
    callback = sign_in(live, browser, rp)
    params = query(callback)
    assert params["iss"] == live.url  # RFC 9207
    assert params["state"] == rp.state
    token = rp.fetch_token(callback)
    assert token["token_type"].lower() == "bearer"
    assert "refresh_token" in token
    claims = rp.verify_id_token(token)
    assert claims["_header"]["alg"] == "RS256"
    assert (claims["vhs"], claims["vhs_name"]) == ("straubing", "vhs Straubing")
    assert claims["email"] == "anna.muster@vhs-straubing.de"
    assert claims["amr"] == ["pwd"]
    assert claims["sid"] and claims["auth_time"]
    assert "@" not in claims["sub"]
    info = rp.session.get(rp.metadata["userinfo_endpoint"]).json()
    assert info == {"sub": claims["sub"], "vhs": "straubing", "vhs_name": "vhs Straubing",
                    "name": "Anna Muster", "email": "anna.muster@vhs-straubing.de",
                    "email_verified": True}
    assert "vhs_name" in rp.metadata["claims_supported"]



def test_public_client_needs_pkce_and_gets_tokens_with_it(live, browser):
    add_client(live, "spa", "--public", "--first-party")
    rp = RelyingParty(live.url, "spa")
    token = rp.fetch_token(sign_in(live, browser, rp))
    assert rp.verify_id_token(token)["aud"] == "spa"
    # Without a code challenge the request goes back to the client as an error.
    url = rp.authorization_url().replace("code_challenge=", "x=")
    response = browser.get(url)
    assert response.status_code == 302
    error = query(response.headers["Location"])
    assert error["error"] == "invalid_request" and error["iss"] == live.url


def test_plain_pkce_is_refused(live, browser):
    add_client(live, "spa", "--public", "--first-party")
    rp = RelyingParty(live.url, "spa")
    url = rp.authorization_url().replace("code_challenge_method=S256",
                                         "code_challenge_method=plain")
    error = query(browser.get(url).headers["Location"])
    assert error["error"] == "invalid_request"


def test_wrong_code_verifier_is_refused_and_spends_the_code(live, browser):
    secret = add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", secret)
    callback = sign_in(live, browser, rp)
    right = rp.verifier
    rp.verifier = "x" * 50
    with pytest.raises(Exception, match="invalid_grant"):
        rp.fetch_token(callback)
    rp.verifier = right
    with pytest.raises(Exception, match="invalid_grant"):
        rp.fetch_token(callback)


def test_replayed_code_is_refused_and_revokes_what_it_issued(live, browser):
    secret = add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", secret)
    callback = sign_in(live, browser, rp)
    token = rp.fetch_token(callback)
    with pytest.raises(Exception, match="invalid_grant"):
        rp.fetch_token(callback)
    info = requests.get(rp.metadata["userinfo_endpoint"], timeout=10,
                        headers={"Authorization": f"Bearer {token['access_token']}"})
    assert info.status_code == 401
    assert "invalid_token" in info.headers["WWW-Authenticate"]
    with pytest.raises(Exception, match="invalid_grant"):
        rp.refresh(token["refresh_token"])


@pytest.mark.parametrize("redirect_uri", [
    "http://127.0.0.1:8765/other",
    "http://127.0.0.1:8765/callback/",
    "http://127.0.0.1:8765/callback?x=1",
    "https://evil.example/callback",
])
def test_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(live, browser,
                                                                       redirect_uri):
    add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", "secret-not-needed-here", redirect_uri=redirect_uri)
    response = browser.get(rp.authorization_url())
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Das hat nicht geklappt" in response.text


def test_unknown_client_gets_an_error_page_before_any_login(live, browser):
    response = browser.get("/authorize?response_type=code&client_id=nobody&scope=openid"
                           "&redirect_uri=https%3A%2F%2Fevil.example%2F")
    assert response.status_code in (400, 401)
    assert "Location" not in response.headers


def introspected(live, secret, token) -> bool:
    """Whether introspection calls ``token`` active."""
    return requests.post(live.url + "/introspect", auth=("vhskoop", secret), timeout=10,
                         data={"token": token}).json()["active"]


def test_a_repeat_within_the_grace_window_gets_the_same_successor(live, browser):
    secret = add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", secret)
    first = rp.fetch_token(sign_in(live, browser, rp))
    second = rp.refresh(first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    # A second tab (or a retry after a lost answer) within the grace window: the same
    # successor, a fresh access token (IDP_REFRESH_REUSE_GRACE_SECONDS, 30 by default).
    third = rp.refresh(first["refresh_token"])
    assert third["refresh_token"] == second["refresh_token"]
    assert third["access_token"] not in (first["access_token"], second["access_token"])
    assert not introspected(live, secret, first["refresh_token"])
    assert introspected(live, secret, second["refresh_token"])
    assert introspected(live, secret, third["access_token"])
    fourth = rp.refresh(second["refresh_token"])  # the grant goes on
    # The first token's successor is rotated already: using the first token is theft.
    with pytest.raises(Exception, match="invalid_grant"):
        rp.refresh(first["refresh_token"])
    assert not introspected(live, secret, fourth["refresh_token"])  # the family is gone
    assert not introspected(live, secret, fourth["access_token"])


def test_a_repeat_reads_the_successors_state_once(live, browser):
    """Authlib's hooks ask three times whether the successor was issued and is unused; the
    request reads it from the database once (RefreshTokenGrant.successor_state)."""
    secret = add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", secret)
    first = rp.fetch_token(sign_in(live, browser, rp))
    second = rp.refresh(first["refresh_token"])
    reads = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("SELECT tokens.refresh_used_at, tokens.refresh_revoked_at"):
            reads.append(statement)

    engine = db.engine(live.app)
    event.listen(engine, "before_cursor_execute", count)
    try:
        third = rp.refresh(first["refresh_token"])  # a repeat within the grace window
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert third["refresh_token"] == second["refresh_token"]
    assert len(reads) == 1


def test_reuse_after_the_grace_window_revokes_the_family(live, browser):
    later = [0]
    live.app.config["CLOCK"] = lambda: time.time() + later[0]
    secret = add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", secret)
    first = rp.fetch_token(sign_in(live, browser, rp))
    second = rp.refresh(first["refresh_token"])
    later[0] = 31
    with pytest.raises(Exception, match="invalid_grant"):
        rp.refresh(first["refresh_token"])  # reuse of a rotated token, too late: RFC 9700
    with pytest.raises(Exception, match="invalid_grant"):
        rp.refresh(second["refresh_token"])  # the whole family is gone


def test_without_a_grace_window_any_reuse_revokes_the_family(make_app):
    live = LiveServer(make_app, REFRESH_REUSE_GRACE_SECONDS=0)
    try:
        live.cli("vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
        live.cli("accounts", "add", "--vhs", "straubing", "--email",
                 "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
        secret = add_client(live, "vhskoop", "--first-party")
        rp = RelyingParty(live.url, "vhskoop", secret)
        first = rp.fetch_token(sign_in(live, Browser(live.url), rp))
        second = rp.refresh(first["refresh_token"])
        with pytest.raises(Exception, match="invalid_grant"):
            rp.refresh(first["refresh_token"])
        with pytest.raises(Exception, match="invalid_grant"):
            rp.refresh(second["refresh_token"])
    finally:
        live.stop()


def test_no_refresh_token_without_offline_access(live, browser):
    secret = add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", secret, scope="openid email")
    token = rp.fetch_token(sign_in(live, browser, rp))
    assert "refresh_token" not in token
    info = rp.session.get(rp.metadata["userinfo_endpoint"]).json()
    assert set(info) == {"sub", "vhs", "vhs_name", "email", "email_verified"}  # by scope


def introspect(rp, secret, value, client_id="vhskoop"):
    return requests.post(rp.metadata["introspection_endpoint"], data={"token": value},
                         auth=(client_id, secret), timeout=10).json()


def test_revocation_then_introspection(live, browser):
    secret = add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", secret)
    token = rp.fetch_token(sign_in(live, browser, rp))
    active = introspect(rp, secret, token["access_token"])
    assert active["active"] is True and active["client_id"] == "vhskoop"
    assert active["vhs"] == "straubing" and active["sub"]
    assert introspect(rp, secret, token["refresh_token"])["active"] is True
    revoked = requests.post(rp.metadata["revocation_endpoint"],
                            data={"token": token["refresh_token"],
                                  "token_type_hint": "refresh_token"},
                            auth=("vhskoop", secret), timeout=10)
    assert revoked.status_code == 200
    assert introspect(rp, secret, token["refresh_token"])["active"] is False
    assert introspect(rp, secret, token["access_token"])["active"] is False  # same grant
    assert introspect(rp, secret, "never-issued")["active"] is False


def test_a_client_cannot_introspect_another_clients_token(live, browser):
    secret = add_client(live, "vhskoop", "--first-party")
    other = live.cli("clients", "add", "feedback", "--grant", "client_credentials")
    other_secret = other.strip().splitlines()[-1].rsplit(" ", 1)[1]
    rp = RelyingParty(live.url, "vhskoop", secret)
    token = rp.fetch_token(sign_in(live, browser, rp))
    assert introspect(rp, other_secret, token["access_token"], "feedback") == {"active": False}


def test_client_credentials(live):
    output = live.cli("clients", "add", "feedback", "--grant", "client_credentials")
    secret = output.strip().splitlines()[-1].rsplit(" ", 1)[1]
    meta = requests.get(live.url + "/.well-known/openid-configuration", timeout=10).json()
    response = requests.post(meta["token_endpoint"], data={"grant_type": "client_credentials"},
                             auth=("feedback", secret), timeout=10)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    token = response.json()
    assert "refresh_token" not in token and "id_token" not in token
    info = requests.post(meta["introspection_endpoint"], data={"token": token["access_token"]},
                         auth=("feedback", secret), timeout=10).json()
    assert info["active"] is True and "sub" not in info


@pytest.mark.parametrize("auth", [("feedback", "wrong" * 10), ("nobody", "x" * 40)])
def test_wrong_client_credentials_get_401_with_www_authenticate(live, auth):
    live.cli("clients", "add", "feedback", "--grant", "client_credentials")
    response = requests.post(live.url + "/token", data={"grant_type": "client_credentials"},
                             auth=auth, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_a_session_cookie_sent_to_the_token_endpoint_is_left_alone(live, browser):
    """The endpoints that services call read no session: a person's cookie sent along (a
    service sharing a cookie jar) neither changes the answer nor the cookie, and the person
    stays signed in; a forged cookie is not even looked at there, and still refused at the
    pages."""
    assert browser.login(None, "straubing", "anna.muster@vhs-straubing.de",
                         PASSWORD).status_code == 303
    output = live.cli("clients", "add", "feedback", "--grant", "client_credentials")
    secret = output.strip().splitlines()[-1].rsplit(" ", 1)[1]
    answer = browser.post("/token", {"grant_type": "client_credentials"},
                          auth=("feedback", secret))
    assert answer.status_code == 200 and answer.json()["access_token"]
    assert "Set-Cookie" not in answer.headers
    assert browser.get("/account").status_code == 200  # still signed in
    [cookie] = [c for c in browser.http.cookies if c.name.endswith("idp_session")]
    forged = requests.post(live.url + "/token", data={"grant_type": "client_credentials"},
                           auth=("feedback", secret), timeout=10,
                           cookies={cookie.name: cookie.value[:-4] + "AAAA"})
    assert forged.status_code == 200 and "Set-Cookie" not in forged.headers
    page = requests.get(live.url + "/account", cookies={cookie.name: cookie.value[:-4] + "AAAA"},
                        allow_redirects=False, timeout=10)
    assert page.status_code == 302 and "/login" in page.headers["Location"]
