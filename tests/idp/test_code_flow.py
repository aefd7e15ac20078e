"""The code flow end to end: a real HTTP server, a person's browser, Authlib's client as RP."""

from __future__ import annotations

import pytest
import requests

from ..conftest import PASSWORD
from ..helpers import RelyingParty, query

pytestmark = pytest.mark.e2e
CALLBACK = "http://127.0.0.1:8765/callback"


def add_client(live, client_id="vhskoop", *extra):
    output = live.cli("clients", "add", client_id, "--redirect-uri", CALLBACK,
                      "--post-logout-redirect-uri", "http://127.0.0.1:8765/bye",
                      "--grant", "authorization_code", "--grant", "refresh_token",
                      "--scope", "openid profile email offline_access", *extra)
    secret = None
    for line in output.splitlines():
        if line.startswith("client secret"):
            secret = line.rsplit(" ", 1)[1]
    return secret


def sign_in(live, browser, rp, **extra):
    response = browser.authorize(rp.authorization_url(**extra), "straubing",
                                 "anna.muster@vhs-straubing.de", PASSWORD)
    assert response.status_code == 302, response.text
    callback = response.headers["Location"]
    assert callback.startswith(CALLBACK)
    return callback


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
    assert claims["vhs"] == "straubing"
    assert claims["email"] == "anna.muster@vhs-straubing.de"
    assert claims["amr"] == ["pwd"]
    assert claims["sid"] and claims["auth_time"]
    assert "@" not in claims["sub"]
    info = rp.session.get(rp.metadata["userinfo_endpoint"]).json()
    assert info == {"sub": claims["sub"], "vhs": "straubing", "name": "Anna Muster",
                    "email": "anna.muster@vhs-straubing.de", "email_verified": True}

