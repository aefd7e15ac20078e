"""Protocol errors by the book: each test names the section it checks."""

from __future__ import annotations

import pytest
import requests

from ..helpers import RelyingParty, add_client, query, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def confidential(live):
    return add_client(live, "vhskoop", "--first-party")


def test_userinfo_without_credentials_has_no_error_code_rfc6750_3_1(live):
    response = requests.get(live.url + "/userinfo", timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'Bearer realm="{live.url}"'
    assert "error" not in response.text


@pytest.mark.parametrize(("header", "status", "error"), [
    ("Basic dXNlcjpwdw==", 400, "invalid_request"),  # not a bearer token
    ("Bearer ", 400, "invalid_request"),
    ("Bearer unknown-token", 401, "invalid_token"),
    ("Bearer not a b64token!", 401, "invalid_token"),  # RFC 6750 2.1 syntax
])
def test_userinfo_errors_rfc6750_3_1(live, header, status, error):
    response = requests.get(live.url + "/userinfo", headers={"Authorization": header},
                            timeout=10)
    assert response.status_code == status
    assert f'error="{error}"' in response.headers["WWW-Authenticate"]
    assert response.json()["error"] == error


def test_userinfo_without_openid_scope_is_insufficient_scope_rfc6750_3_1(live):
    output = live.cli("clients", "add", "backend", "--grant", "client_credentials",
                      "--scope", "openid profile")
    secret = output.strip().splitlines()[-1].rsplit(" ", 1)[1]
    token = requests.post(live.url + "/token", data={"grant_type": "client_credentials"},
                          auth=("backend", secret), timeout=10).json()["access_token"]
    response = requests.get(live.url + "/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"


@pytest.mark.parametrize("hint", ["refresh_token", "access_token", "id_token", "bogus", ""])
def test_introspection_searches_every_kind_whatever_the_hint_rfc7662_2_1(live, browser,
                                                                         confidential, hint):
    rp = RelyingParty(live.url, "vhskoop", confidential)
    token = rp.fetch_token(sign_in(live, browser, rp))
    for value in (token["access_token"], token["refresh_token"]):
        response = requests.post(live.url + "/introspect", auth=("vhskoop", confidential),
                                 data={"token": value, "token_type_hint": hint}, timeout=10)
        assert response.status_code == 200 and response.json()["active"] is True


def test_introspection_answers_401_only_for_a_failed_client_authentication_rfc7662_2_3(
        live, confidential):
    unknown = requests.post(live.url + "/introspect", auth=("vhskoop", confidential),
                            data={"token": "nothing-we-issued", "token_type_hint": "bogus"},
                            timeout=10)
    assert unknown.status_code == 200 and unknown.json() == {"active": False}
    wrong = requests.post(live.url + "/introspect", auth=("vhskoop", "x" * 40),
                          data={"token": "x"}, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_revocation_ignores_an_unknown_hint_rfc7009_2_1(live, browser, confidential):
    rp = RelyingParty(live.url, "vhskoop", confidential)
    token = rp.fetch_token(sign_in(live, browser, rp))
    response = requests.post(live.url + "/revoke", auth=("vhskoop", confidential), timeout=10,
                             data={"token": token["refresh_token"], "token_type_hint": "bogus"})
    assert response.status_code == 200
    with pytest.raises(Exception, match="invalid_grant"):
        rp.refresh(token["refresh_token"])


def test_a_missing_code_verifier_is_invalid_grant_rfc7636_4_6(live, browser, confidential):
    rp = RelyingParty(live.url, "vhskoop", confidential)
    code = query(sign_in(live, browser, rp))["code"]
    response = requests.post(live.url + "/token", auth=("vhskoop", confidential), timeout=10,
                             data={"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": "http://127.0.0.1:8765/callback"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_every_token_error_is_not_cached_rfc6749_5_2(live, confidential):
    for data in ({"grant_type": "authorization_code", "code": "x"},
                 {"grant_type": "password"}, {}):
        response = requests.post(live.url + "/token", data=data, timeout=10,
                                 auth=("vhskoop", confidential))
        assert response.status_code in (400, 401)
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"


@pytest.mark.parametrize("grant_type", ['"quoted"', "n\u00e4", "\u202e", "back\\slash"])
def test_error_descriptions_repeat_no_input_rfc6749_5_2(live, confidential, grant_type):
    response = requests.post(live.url + "/token", timeout=10, auth=("vhskoop", confidential),
                             data={"grant_type": grant_type})
    assert response.status_code == 400
    assert response.json()["error"] in ("unsupported_grant_type", "invalid_request")
    assert grant_type not in response.text
    assert response.json()["error_description"].isascii()
