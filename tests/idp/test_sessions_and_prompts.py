"""Login, SSO, prompt/max_age, consent, response modes and logout, over real HTTP."""

from __future__ import annotations

import re
import time

import pytest

from ..helpers import CALLBACK, PASSWORD, RelyingParty, add_client, form_field, query, sign_in

pytestmark = pytest.mark.e2e


def test_second_authorization_uses_the_sso_session_without_a_password(live, browser):
    add_client(live, "spa", "--public", "--first-party")
    rp = RelyingParty(live.url, "spa")
    sign_in(live, browser, rp)
    again = RelyingParty(live.url, "spa")
    response = browser.get(again.authorization_url())
    assert response.status_code == 302
    assert response.headers["Location"].startswith(CALLBACK)


def test_prompt_none_without_session_answers_login_required(live, browser):
    add_client(live, "spa", "--public", "--first-party")
    rp = RelyingParty(live.url, "spa")
    response = browser.get(rp.authorization_url(prompt="none"))
    error = query(response.headers["Location"])
    assert error["error"] == "login_required"
    assert error["state"] == rp.state and error["iss"] == live.url


def test_prompt_none_with_session_but_no_consent_answers_consent_required(live, browser):
    add_client(live, "first", "--public", "--first-party")
    add_client(live, "third", "--public")
    sign_in(live, browser, RelyingParty(live.url, "first"))
    response = browser.get(RelyingParty(live.url, "third").authorization_url(prompt="none"))
    assert query(response.headers["Location"])["error"] == "consent_required"


@pytest.mark.parametrize("extra", [{"prompt": "login"}, {"max_age": "0"}])
def test_prompt_login_and_max_age_ask_again_then_finish(live, browser, extra):
    add_client(live, "spa", "--public", "--first-party")
    first = RelyingParty(live.url, "spa")
    first_token = first.fetch_token(sign_in(live, browser, first))
    # auth_time has a resolution of one second: the provider's clock moves on by two
    live.app.config["CLOCK"] = lambda: time.time() + 2
    rp = RelyingParty(live.url, "spa")
    response = browser.get(rp.authorization_url(**extra))
    assert response.status_code == 302 and "/login?" in response.headers["Location"]
    login = browser.login(response.headers["Location"], "straubing",
                          "anna.muster@vhs-straubing.de", PASSWORD)
    done = browser.get(login.headers["Location"])
    assert done.headers["Location"].startswith(CALLBACK)
    token = rp.fetch_token(done.headers["Location"])
    assert rp.verify_id_token(token)["auth_time"] > first.verify_id_token(first_token)["auth_time"]


def test_login_hint_prefills_the_address(live, browser):
    add_client(live, "spa", "--public", "--first-party")
    rp = RelyingParty(live.url, "spa")
    response = browser.get(rp.authorization_url(login_hint="anna.muster@vhs-straubing.de"))
    page = browser.get(response.headers["Location"]).text
    assert form_field(page, "email") == "anna.muster@vhs-straubing.de"


def consent_page(live, browser):
    """A third-party client's authorization request, up to its consent page."""
    add_client(live, "partner", "--public")
    rp = RelyingParty(live.url, "partner")
    page = browser.authorize(rp.authorization_url(), "straubing",
                             "anna.muster@vhs-straubing.de", PASSWORD)
    assert page.status_code == 200 and "Zugriff erlauben?" in page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    return rp, action.replace("&amp;", "&"), form_field(page.text, "csrf_token")


def test_third_party_client_asks_consent_once(live, browser):
    rp, action, csrf = consent_page(live, browser)
    answer = browser.post(action, {"csrf_token": csrf, "allow": "Zulassen"})
    assert answer.headers["Location"].startswith(CALLBACK)
    assert rp.fetch_token(answer.headers["Location"])["access_token"]
    again = RelyingParty(live.url, "partner")
    response = browser.get(again.authorization_url())
    assert response.headers["Location"].startswith(CALLBACK)  # remembered
    response = browser.get(RelyingParty(live.url, "partner").authorization_url(prompt="consent"))
    assert response.status_code == 200 and "Zugriff erlauben?" in response.text


def test_denied_consent_answers_access_denied(live, browser):
    _, action, csrf = consent_page(live, browser)
    answer = browser.post(action, {"csrf_token": csrf, "deny": "Ablehnen"})
    error = query(answer.headers["Location"])
    assert error["error"] == "access_denied" and error["iss"] == live.url


def test_consent_without_csrf_token_is_refused(live, browser):
    _, action, _ = consent_page(live, browser)
    answer = browser.post(action, {"allow": "Zulassen"})
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_form_post_response_mode(live, browser):
    add_client(live, "spa", "--public", "--first-party")
    rp = RelyingParty(live.url, "spa")
    response = browser.authorize(rp.authorization_url(response_mode="form_post"), "straubing",
                                 "anna.muster@vhs-straubing.de", PASSWORD)
    assert response.status_code == 200
    assert f'action="{CALLBACK}"' in response.text
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', response.text))
    assert set(fields) == {"code", "state", "iss"} and fields["iss"] == live.url
    policy = response.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert f'nonce="{nonce}"' in response.text
    # The page may post to this client and nowhere else; the code is never cached.
    assert re.search(r"form-action ([^;]*)", policy).group(1) == "'self' http://127.0.0.1:8765"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_a_refusal_in_form_post_mode_is_posted_too(live, browser):
    add_client(live, "spa", "--public")
    rp = RelyingParty(live.url, "spa")
    response = browser.get(rp.authorization_url(response_mode="form_post", prompt="none"))
    assert response.status_code == 200 and f'action="{CALLBACK}"' in response.text
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', response.text))
    assert fields["error"] == "login_required" and fields["iss"] == live.url
    assert "http://127.0.0.1:8765" in response.headers["Content-Security-Policy"]


def test_unsupported_response_mode_and_request_objects_are_errors_to_the_client(live, browser):
    add_client(live, "spa", "--public", "--first-party")
    for extra, code in [({"response_mode": "fragment"}, "invalid_request"),
                        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
                        ({"request_uri": "https://x.example/r"}, "request_uri_not_supported"),
                        ({"max_age": "-1"}, "invalid_request")]:
        rp = RelyingParty(live.url, "spa")
        response = browser.get(rp.authorization_url(**extra))
        assert query(response.headers["Location"])["error"] == code, extra


def test_end_session_with_id_token_hint_logs_out_and_redirects(live, browser):
    add_client(live, "spa", "--public", "--first-party")
    rp = RelyingParty(live.url, "spa")
    token = rp.fetch_token(sign_in(live, browser, rp))
    response = browser.get("/end_session", params={
        "id_token_hint": token["id_token"], "post_logout_redirect_uri": "http://127.0.0.1:8765/bye",
        "state": "s1"})
    assert response.status_code == 302
    assert response.headers["Location"] == "http://127.0.0.1:8765/bye?state=s1"
    again = browser.get(RelyingParty(live.url, "spa").authorization_url())
    assert "/login?" in again.headers["Location"]  # the SSO session is over


def test_end_session_refuses_unregistered_post_logout_redirect(live, browser):
    add_client(live, "spa", "--public", "--first-party")
    rp = RelyingParty(live.url, "spa")
    token = rp.fetch_token(sign_in(live, browser, rp))
    response = browser.get("/end_session", params={
        "id_token_hint": token["id_token"], "post_logout_redirect_uri": "https://evil.example/"})
    assert response.status_code == 200 and "Location" not in response.headers
    assert "abgemeldet" in response.text


def test_end_session_without_hint_asks_the_person(live, browser):
    add_client(live, "spa", "--public", "--first-party")
    sign_in(live, browser, RelyingParty(live.url, "spa"))
    page = browser.get("/end_session?post_logout_redirect_uri=http://127.0.0.1:8765/bye")
    assert page.status_code == 200 and "Abmelden?" in page.text
    assert browser.post("/end_session/confirm", {}).status_code == 400  # no CSRF token
    done = browser.post("/end_session/confirm",
                        {"csrf_token": form_field(page.text, "csrf_token")})
    assert done.status_code == 200 and "Sie sind abgemeldet" in done.text
    again = browser.get(RelyingParty(live.url, "spa").authorization_url())
    assert "/login?" in again.headers["Location"]


def test_the_consent_answer_of_a_session_that_ended_meanwhile_asks_for_the_login(live,
                                                                                browser):
    """The consent page's answer meets the prompts before consent again: a session ended
    in another tab gives the login (coming back to the request), no code, no consent."""
    rp, action, csrf = consent_page(live, browser)
    browser.http.cookies.clear(domain="127.0.0.1", path="/", name="idp_sso")
    answer = browser.post(action, {"csrf_token": csrf, "allow": "Zulassen"})
    assert answer.status_code == 302 and "/login?" in answer.headers["Location"]
    assert "code=" not in answer.headers["Location"]
    resumed = query(query(answer.headers["Location"])["next"])
    assert resumed["client_id"] == "partner" and resumed["state"] == rp.state
    again = browser.authorize(RelyingParty(live.url, "partner").authorization_url(),
                              "straubing", "anna.muster@vhs-straubing.de", PASSWORD)
    assert "Zugriff erlauben?" in again.text  # nothing was allowed
