"""Discovery, JWKS and key rotation while tokens are alive."""

from __future__ import annotations

import time

import pytest
import requests
from authlib.oauth2 import rfc9207
from authlib.oidc import rpinitiated
from authlib.oidc.discovery import OpenIDProviderMetadata

from idp.cli import runner as cli_runner

from ..helpers import RelyingParty, add_client, sign_in

pytestmark = pytest.mark.e2e


def test_discovery_passes_authlibs_metadata_validation(live):
    response = requests.get(live.url + "/.well-known/openid-configuration", timeout=10)
    meta = response.json()
    OpenIDProviderMetadata(meta).validate(
        metadata_classes=[rfc9207.AuthorizationServerMetadata,
                          rpinitiated.OpenIDProviderMetadata])
    assert meta["issuer"] == live.url
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["response_modes_supported"] == ["query", "form_post"]
    assert "public" in response.headers["Cache-Control"]


def test_discovery_urls_come_from_the_issuer_not_the_host_header(live):
    meta = requests.get(live.url + "/.well-known/openid-configuration", timeout=10,
                        headers={"Host": "evil.example"}).json()
    assert all(not str(v).startswith("http://evil") for v in meta.values())


def test_jwks_has_cache_headers_and_answers_304(live):
    response = requests.get(live.url + "/jwks.json", timeout=10)
    assert response.headers["Cache-Control"] == "public, max-age=300"
    etag = response.headers["ETag"]
    again = requests.get(live.url + "/jwks.json", headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304
    keys = response.json()["keys"]
    assert {k["alg"] for k in keys} == {"RS256", "ES256"}
    assert all("d" not in k for k in keys)


def test_es256_client_gets_es256_id_tokens(live, browser):
    add_client(live, "spa", "--public", "--first-party", "--id-token-alg", "ES256")
    rp = RelyingParty(live.url, "spa")
    token = rp.fetch_token(sign_in(live, browser, rp))
    assert rp.verify_id_token(token)["_header"]["alg"] == "ES256"


def test_rotation_while_tokens_are_alive(make_app, tmp_path):
    from ..helpers import PASSWORD, Browser, LiveServer

    live = LiveServer(make_app, KEYS_RELOAD_SECONDS=1)
    try:
        live.cli("vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
        live.cli("accounts", "add", "--vhs", "straubing", "--email", "a@vhs-straubing.de",
                 "--password-stdin", input=PASSWORD + "\n")
        add_client(live, "spa", "--public", "--first-party")
        browser = Browser(live.url)
        rp = RelyingParty(live.url, "spa")
        old = rp.fetch_token(browser.authorize(rp.authorization_url(), "straubing",
                                               "a@vhs-straubing.de", PASSWORD)
                             .headers["Location"])
        old_kid = rp.verify_id_token(old)["_header"]["kid"]
        live.cli("keys", "rotate")
        time.sleep(1.2)  # the running server notices the new manifest within a second
        rp2 = RelyingParty(live.url, "spa")
        new = rp2.fetch_token(browser.get(rp2.authorization_url()).headers["Location"])
        new_kid = rp2.verify_id_token(new)["_header"]["kid"]
        assert new_kid != old_kid
        # The old token still verifies: its (now retired) key is still published.
        assert rp.verify_id_token(old)["_header"]["kid"] == old_kid
        states = {k.split("\t")[0]: k.split("\t")[2]
                  for k in live.cli("keys", "list").strip().splitlines()}
        assert states[old_kid] == "retired" and states[new_kid] == "current"
    finally:
        live.stop()


def test_a_second_instance_picks_up_a_rotation(make_app):
    first = make_app(KEYS_RELOAD_SECONDS=1)
    second = make_app(KEYS_RELOAD_SECONDS=1, KEYS_DIR=first.config["KEYS_DIR"])
    before = second.test_client().get("/jwks.json").json["keys"]
    result = cli_runner(first).invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    time.sleep(1.2)
    after = second.test_client().get("/jwks.json").json["keys"]
    assert len(after) == len(before) + 2  # a new next key per algorithm
