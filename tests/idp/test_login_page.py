"""The login page: words from the help page, one message for every refusal, cookies,
CSRF, no open redirects, and no 500 for hostile input."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, update

from idp import db
from idp.models import Account

from ..helpers import (
    PASSWORD,
    assert_signed_in_anew,
    cookie,
    form_field,
    login_form,
    open_reset_link,
    plant_browser_session,
    post_login,
)


def test_login_page_has_the_help_pages_words_and_fields(client, tenant):
    page, _ = login_form(client)
    for words in ["Herzlich willkommen im Kooperationsportal vhsKOOP",
                  "Benutzen Sie Ihren Mitarbeitenden-Login.", "Bitte VHS auswählen",
                  "E-Mail-Adresse", "Passwort", "Angemeldet bleiben", "Anmelden",
                  "Passwort vergessen", "Neuer Zugang"]:
        assert words in page
    assert re.search(r'<select[^>]*id="tenant" name="tenant"', page)
    assert re.search(r'<input[^>]*name="email"', page)
    assert re.search(r'<input[^>]*name="password"[^>]*type="password"', page)
    assert re.search(r'<input[^>]*name="remember"[^>]*type="checkbox"', page)
    assert re.search(r'<input[^>]*name="csrf_token"[^>]*type="hidden"', page)
    assert ('<option data-aliases="volkshochschule straubing" data-name="vhs Straubing" '
            'value="straubing">Straubing (vhs)</option>') in page


def test_only_onboarded_vhs_are_offered(client, runner, tenant):
    runner.invoke(args=["vhs", "add", "passau", "--name", "vhs Passau"])
    page, _ = login_form(client)
    assert "vhs Passau" not in page


def test_successful_login_opens_a_session(client, tenant):
    response = post_login(client)
    assert response.status_code == 303
    assert client.get("/").get_data(as_text=True).count("anna.muster@vhs-straubing.de") == 1


def test_the_typed_address_is_cleaned(client, tenant):
    assert post_login(client, email="\u00a0Anna.Muster@VHS-Straubing.de\u200b ").status_code == 303


def strip_own_input(body: str) -> str:
    """The page apart from the CSRF token, the CSP nonce and what the person typed."""
    body = re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', "", body)
    body = re.sub(r'nonce="[^"]*"', "", body)
    body = re.sub(r'(name="email"[^>]*)value="[^"]*"', r"\1", body)
    return re.sub(r' selected', "", body)


def test_every_refusal_reads_the_same(app, client, tenant):
    with app.app_context():
        db.session().execute(update(Account).values(status="disabled"))
        db.session().commit()
    disabled = post_login(client)
    wrong = post_login(client, password="falsches-Passwort-123")
    unknown = post_login(client, email="niemand@vhs-straubing.de")
    responses = (disabled, wrong, unknown)
    bodies = {strip_own_input(r.get_data(as_text=True)) for r in responses}
    assert len(bodies) == 1
    assert {r.status_code for r in responses} == {401}
    assert "Die Anmeldung ist fehlgeschlagen" in bodies.pop()
    # The list of VHS is public: a VHS not in it is named as such.
    other_vhs = post_login(client, tenant="nirgendwo")
    assert other_vhs.status_code == 400
    assert "Diese VHS gibt es in der Liste nicht" in other_vhs.get_data(as_text=True)


@pytest.mark.parametrize(("field", "message"), [
    ("tenant", "Bitte wählen Sie Ihre VHS aus."),
    ("email", "Bitte geben Sie Ihre E-Mail-Adresse ein."),
    ("password", "Bitte geben Sie Ihr Passwort ein."),
])
def test_missing_fields_are_named(client, tenant, field, message):
    response = post_login(client, **{field: ""})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_post_without_csrf_token_is_refused(client, tenant):
    response = client.post("/login", data={"tenant": "straubing", "password": PASSWORD,
                                           "email": "anna.muster@vhs-straubing.de"})
    assert response.status_code == 400
    assert "Das Formular ist abgelaufen" in response.get_data(as_text=True)


def cookie_header(response, name):
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "="))


def test_session_cookie_flags_and_remember(client, tenant):
    short = cookie_header(post_login(client), "idp_sso")
    assert "HttpOnly" in short and "SameSite=Lax" in short
    assert "Expires" not in short and "Max-Age" not in short  # ends with the browser
    remembered = cookie_header(post_login(client, remember="y"), "idp_sso")
    assert "Max-Age=2592000" in remembered  # 30 days


def test_session_secret_changes_at_every_login(client, tenant):
    first = cookie_header(post_login(client), "idp_sso").split(";")[0]
    second = cookie_header(post_login(client), "idp_sso").split(";")[0]
    assert first != second


def test_a_password_sign_in_renews_the_session_and_voids_reset_links(app, client, tenant):
    post_login(client)
    old_sso = cookie(client, "idp_sso")
    plant_browser_session(app, client.set_cookie)
    reset_link = open_reset_link(app, *tenant)
    assert post_login(client).status_code == 303
    assert_signed_in_anew(app, old_sso, cookie(client, "idp_sso"),
                          cookie(client, "idp_session"), reset_link)


def test_a_password_sign_in_commits_once(app, client, tenant):
    _, data = login_form(client)
    commits = []
    event.listen(db.engine(app), "commit", lambda connection: commits.append(1))
    response = client.post("/login", data={**data, "tenant": "straubing", "password": PASSWORD,
                                           "email": "anna.muster@vhs-straubing.de"})
    assert response.status_code == 303 and cookie(client, "idp_sso")
    assert len(commits) == 1


def test_cookies_are_secure_behind_an_https_issuer(make_app, tenant):
    app = make_app(ISSUER="https://login.vhskoop.de")
    response = post_login(app.test_client())
    header = cookie_header(response, "__Host-idp_sso")
    assert "Secure" in header and "Path=/" in header


@pytest.mark.parametrize("next_url", [
    "https://evil.example/", "//evil.example/authorize?x", "/\\evil.example", "/account/x",
    "javascript:alert(1)",
])
def test_no_open_redirect_after_login(client, tenant, next_url):
    _, data = login_form(client)
    data.update(tenant="straubing", email="anna.muster@vhs-straubing.de", password=PASSWORD,
                next=next_url)
    response = client.post("/login", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(("data", "status", "words"), [
    ({"email": "a" * 5000 + "@vhs.de"}, 400, "Die E-Mail-Adresse ist zu lang: höchstens 254"),
    ({"email": "a" * 2000}, 400, "Die E-Mail-Adresse ist zu lang"),
    ({"password": "p" * 5000}, 400, "Das Passwort darf höchstens 1024 Zeichen haben."),
    ({"tenant": "x" * 5000}, 400, "Diese VHS gibt es in der Liste nicht"),
    ({"email": "' OR 1=1 --"}, 400, "genau ein @-Zeichen"),
    ({"tenant": "straubing'; DROP TABLE accounts; --"}, 400, "gibt es in der Liste nicht"),
    ({"email": "anna.muster@vhs-straubing.de\u0430"}, 401, "Die Anmeldung ist fehlgeschlagen"),
])
def test_hostile_input_gets_a_clear_answer(client, tenant, data, status, words):
    response = post_login(client, **data)
    assert response.status_code == status
    assert words in response.get_data(as_text=True)
    assert post_login(client).status_code == 303  # nothing was broken


@pytest.mark.parametrize("data", [
    {"email": "anna@vhs.de\r\nBcc: x@evil.example"},
    {"email": "\x00\x01\x02"},
    {"password": "richtig\x00"},
    {"tenant": "straubing\x7f"},
])
def test_control_characters_are_refused_before_any_check(client, tenant, data):
    response = post_login(client, **data)
    assert response.status_code == 400
    assert "Die Anfrage ist ungültig" in response.get_data(as_text=True)
    assert post_login(client).status_code == 303  # nothing was broken


def test_oversized_request_is_413(client, tenant):
    response = client.post("/login", data={"email": "x" * 100_000})
    assert response.status_code == 413
    assert "zu groß" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_protocol_endpoints_answer_garbage_with_protocol_errors(client, path):
    response = client.post(path, data={"grant_type": "\x00", "token": "x" * 10_000,
                                       "client_id": "y" * 10_000})
    assert 400 <= response.status_code < 500
    assert response.is_json and "error" in response.json


def test_unknown_page_is_a_german_404(client):
    response = client.get("/gibt-es-nicht")
    assert response.status_code == 404
    assert "Diese Seite gibt es nicht." in response.get_data(as_text=True)


def test_security_headers(client):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_logout_button_ends_the_session(client, tenant):
    post_login(client)
    page = client.get("/").get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', page).group(1)
    response = client.post(action, data={"csrf_token": form_field(page, "csrf_token")})
    assert "Sie sind abgemeldet" in response.get_data(as_text=True)
    assert "Sie sind angemeldet" not in client.get("/").get_data(as_text=True)


def test_the_browser_finds_its_icon(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert b"<svg" in icon.get_data()
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/login").get_data(as_text=True)


def test_help_after_a_refused_sign_in_has_the_address_filled_in(client, tenant):
    assert post_login(client, email="anna.muster@vhs-straubing.de",
                      password="falsch-falsch-falsch").status_code == 401
    page = client.get("/hilfe/bitten").get_data(as_text=True)
    assert form_field(page, "email") == "anna.muster@vhs-straubing.de"
    assert form_field(client.get("/hilfe/bitten").get_data(as_text=True), "email") == ""  # once
