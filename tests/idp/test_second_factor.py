"""The second factor through HTTP: TOTP enrollment and sign-in, replay, the throttle,
recovery codes, the policies (VHS, client, acr_values, console) and the claims."""

from __future__ import annotations

import html
import re
import time

import pyotp
import pytest
from sqlalchemy import select

from idp import db, factors
from idp.models import AuditEvent, OutboxMail, RecoveryCode, SsoSession, TotpFactor, now

from ..helpers import (
    PASSWORD,
    RelyingParty,
    account_of,
    add_client,
    form_field,
    give_totp,
    post_login,
    recovery_code,
    run,
    second_step,
    secret,
    totp_code,
)

ANNA = "anna.muster@vhs-straubing.de"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def events(app, kind: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session().scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


def session_amr(app) -> list[list[str]]:
    with app.app_context():
        return [s.amr for s in db.session().scalars(
            select(SsoSession).where(SsoSession.ended_at.is_(None)))]


def factor_page(client) -> str:
    return client.get("/account/zweiter-faktor").get_data(as_text=True)


def press(client, action: str, **data):
    """A button of the factor page (the session's CSRF token first)."""
    token = form_field(client.get("/account").get_data(as_text=True), "csrf_token")
    return client.post(action, data={"csrf_token": token, **data})


def test_totp_enrollment_shows_qr_uri_and_secret_and_needs_a_current_code(app, client, tenant):
    post_login(client)
    page = text(press(client, "/account/zweiter-faktor/app"))
    key = secret(re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1))
    assert "<svg" in page and 'class="qr"' in page  # drawn here, no external service
    uri = re.search(r'id="totp-uri">([^<]+)<', page).group(1)
    assert uri.startswith("otpauth://totp/") and f"secret={key}" in uri
    assert "issuer=vhsKOOP" in uri
    with app.app_context():  # sealed at rest
        stored = db.session().scalar(select(TotpFactor.secret))
        assert key not in stored
    wrong = press(client, "/account/zweiter-faktor/app/bestaetigen", code="000000")
    assert wrong.status_code == 400 and "Der Code stimmt nicht" in text(wrong)
    assert not factors.satisfied(session_amr(app)[0])
    done = press(client, "/account/zweiter-faktor/app/bestaetigen",
                 code=pyotp.TOTP(key).now())
    page = text(done)
    assert done.status_code == 200 and "Die Authenticator-App ist eingerichtet" in page
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", page)
    assert len(codes) == 10 and len(set(codes)) == 10  # shown once, here
    assert session_amr(app) == [["pwd", "otp", "mfa"]]  # the factor counts for this session
    with app.app_context():
        hashes = list(db.session().scalars(select(RecoveryCode.code_hash)))
        assert len(hashes) == 10 and not set(codes) & set(hashes)
        mails = list(db.session().scalars(select(OutboxMail).where(
            OutboxMail.kind == "factors_changed")))
    assert len(mails) == 1 and "Authenticator-App" in mails[0].text_body
    assert codes[0] not in factor_page(client)  # never shown again


def test_a_password_alone_no_longer_signs_in_then_the_code_does_once(app, tenant):
    key = give_totp(app, ANNA)
    client = app.test_client()
    first = post_login(client)
    assert first.headers["Location"] == "/login/zweiter-schritt"
    assert client.get("/account").status_code == 302  # not signed in yet
    page = text(client.get("/login/zweiter-schritt"))
    assert "Code aus der Authenticator-App" in page and "Wiederherstellungscode" in page
    code = totp_code(app, ANNA, key)
    done = second_step(client, code)
    assert done.status_code == 303 and done.headers["Location"] == "/"
    assert session_amr(app) == [["pwd", "otp", "mfa"]]
    login = [e for e in events(app, "login")][-1]
    assert login.source == "local" and "totp" in login.detail
    # the same code again, in another browser: refused (replay)
    other = app.test_client()
    post_login(other)
    replay = second_step(other, code)
    assert replay.status_code == 401 and "schon verwendet" in text(replay)
    assert events(app, "login_failed")[-1].reason == "wrong_code"


def test_codes_within_one_step_of_skew_are_accepted_and_older_ones_not(app, tenant):
    key = give_totp(app, ANNA)
    totp = pyotp.TOTP(key)
    client = app.test_client()
    post_login(client)
    assert second_step(client, totp.generate_otp(now() // 30 - 3)).status_code == 401
    assert second_step(client, totp.generate_otp(now() // 30 + 1)).status_code == 303


def test_five_wrong_codes_end_the_attempt_and_the_password_is_asked_again(app, tenant):
    give_totp(app, ANNA)
    client = app.test_client()
    post_login(client)
    for _ in range(4):
        assert second_step(client, "123456").status_code in (401, 303)
    fifth = second_step(client, "123456")
    assert fifth.status_code == 303 and fifth.headers["Location"] == "/login"
    again = text(client.get("/login"))
    assert "Zu viele falsche Codes" in again
    assert client.get("/login/zweiter-schritt").headers["Location"].startswith("/login")
    with app.app_context():  # someone knows the password: the owner is told, once a day
        [told] = db.session().scalars(select(OutboxMail).where(
            OutboxMail.kind == "wrong_codes")).all()
    assert "richtiges Passwort" in told.text_body and "/passwort-vergessen" in told.text_body
    post_login(client)
    for _ in range(5):
        second_step(client, "123456")
    with app.app_context():
        assert len(db.session().scalars(select(OutboxMail).where(
            OutboxMail.kind == "wrong_codes")).all()) == 1


def test_twenty_wrong_codes_an_hour_make_new_browsers_wait_not_the_owner(app, tenant):
    key = give_totp(app, ANNA)
    owner = app.test_client()
    post_login(owner)
    assert second_step(owner, totp_code(app, ANNA, key)).status_code == 303  # device cookie
    for _ in range(4):  # an attacker with the password, four new browsers, five codes each
        attacker = app.test_client()
        post_login(attacker)
        for _ in range(5):
            second_step(attacker, "000000")
    attacker = app.test_client()
    post_login(attacker)
    refused = second_step(attacker, totp_code(app, ANNA, key))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Zu viele fehlgeschlagene" in text(refused)
    owner.post("/end_session/confirm", data={"csrf_token": form_field(
        owner.get("/").get_data(as_text=True), "csrf_token")})
    post_login(owner)  # the owner's browser signed in before: never counted, never waits
    assert second_step(owner, totp_code(app, ANNA, key)).status_code == 303


def test_a_recovery_code_works_once_and_says_how_many_remain(app, tenant):
    give_totp(app, ANNA)
    code = recovery_code(app, ANNA)
    client = app.test_client()
    post_login(client)
    used = second_step(client, code.upper().replace("-", " "), method="recovery")
    assert used.status_code == 303 and used.headers["Location"].startswith(
        "/login/wiederherstellungscode-verwendet")
    assert "Sie haben noch 9 Wiederherstellungscodes" in text(client.get(
        used.headers["Location"]))
    other = app.test_client()
    post_login(other)
    assert second_step(other, code, method="recovery").status_code == 401


def test_removing_the_last_factor_needs_a_fresh_login_and_mails(app, tenant):
    key = give_totp(app, ANNA)
    client = app.test_client()
    post_login(client)
    second_step(client, totp_code(app, ANNA, key))
    app.config["CLOCK"] = lambda: time.time() + 16 * 60
    try:
        stale = press(client, "/account/zweiter-faktor/app/entfernen")
        assert stale.status_code == 303 and stale.headers["Location"].startswith("/login?next=")
    finally:
        app.config.pop("CLOCK")
    done = press(client, "/account/zweiter-faktor/app/entfernen")
    assert "wurde entfernt" in text(done)
    with app.app_context():
        assert not factors.has_any(account_of(app, ANNA).id)
        assert db.session().scalar(select(RecoveryCode.id)) is None
        kinds = [m.text_body for m in db.session().scalars(select(OutboxMail).where(
            OutboxMail.kind == "factors_changed"))]
    assert any("entfernt" in body for body in kinds)


def test_a_password_only_session_cannot_add_a_factor_when_one_exists(app, tenant):
    client = app.test_client()
    post_login(client)  # before the factor existed
    give_totp(app, ANNA)  # set up meanwhile on another device
    response = press(client, "/account/zweiter-faktor/app")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login/zweiter-schritt"


@pytest.fixture
def vhskoop(live):
    add_client(live, "vhskoop", "--public", "--first-party")
    return RelyingParty(live.url, "vhskoop")


def _id_token(live, browser, rp, key, **extra):
    response = browser.authorize(rp.authorization_url(**extra), "straubing", ANNA, PASSWORD,
                                 until="/login/zweiter-schritt")
    assert response.headers["Location"] == "/login/zweiter-schritt"
    page = browser.get("/login/zweiter-schritt").text
    response = browser.post("/login/zweiter-schritt", {
        "csrf_token": form_field(page, "csrf_token"), "method": "totp",
        "code": totp_code(live.app, ANNA, key)})
    response = browser.authorize(response.headers["Location"])
    assert response.status_code == 302, response.text
    return rp.verify_id_token(rp.fetch_token(response.headers["Location"]))


@pytest.mark.e2e
def test_multi_factor_acr_values_give_an_id_token_with_mfa_and_acr(live, browser, vhskoop):
    key = give_totp(live.app, ANNA)
    claims = _id_token(live, browser, vhskoop, key, acr_values=factors.MULTI_FACTOR)
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == factors.MULTI_FACTOR
    discovery = browser.get("/.well-known/openid-configuration").json()
    assert discovery["acr_values_supported"] == [factors.MULTI_FACTOR]
    assert {"acr", "amr"} <= set(discovery["claims_supported"])


@pytest.mark.e2e
def test_without_a_policy_there_is_no_acr(live, browser, vhskoop):
    key = give_totp(live.app, ANNA)
    claims = _id_token(live, browser, vhskoop, key)
    assert claims["amr"] == ["pwd", "otp", "mfa"] and "acr" not in claims


def test_a_vhs_that_requires_a_factor_sends_its_people_to_set_one_up(app, runner, tenant):
    assert "required" in run(runner, "vhs", "set-mfa", "straubing", "--required")
    client = app.test_client()
    first = post_login(client)
    assert first.headers["Location"] == "/account/zweiter-faktor"  # before anything else
    assert "vorgeschrieben" in text(client.get("/account/zweiter-faktor"))
    run(runner, "vhs", "set-mfa", "straubing", "--optional")
    run(runner, "vhs", "set-mfa", "straubing", "--optional")  # no change: no event
    assert post_login(app.test_client()).headers["Location"] == "/"
    changes = [(e.vhs, e.detail, e.actor.startswith("cli:")) for e in events(app, "mfa_policy")]
    assert changes == [("straubing", "required", True), ("straubing", "optional", True)]


@pytest.mark.e2e
def test_a_client_that_requires_a_factor_gets_one_set_up_then_mfa(live, browser, vhskoop):
    live.cli("clients", "set", "vhskoop", "--require-mfa")
    response = browser.authorize(vhskoop.authorization_url(), "straubing", ANNA, PASSWORD,
                                 until="/account/zweiter-faktor")
    location = response.headers["Location"]
    assert location.startswith("/account/zweiter-faktor?next=/authorize?")
    page = browser.get(location).text
    started = browser.post("/account/zweiter-faktor/app", {
        "csrf_token": form_field(page, "csrf_token"), "next": form_field(page, "next")})
    key = secret(re.search(r'id="totp-secret">([A-Z2-7]+)<', started.text).group(1))
    confirmed = browser.post("/account/zweiter-faktor/app/bestaetigen", {
        "csrf_token": form_field(page, "csrf_token"), "next": form_field(page, "next"),
        "code": pyotp.TOTP(key).now()})
    assert confirmed.status_code == 200 and "Wiederherstellungscodes" in confirmed.text
    go_on = html.unescape(re.search(r'class="button primary" href="([^"]+)"',
                                    confirmed.text).group(1))
    assert go_on.startswith("/authorize?")
    response = browser.authorize(go_on)
    assert response.status_code == 302, response.text
    claims = vhskoop.verify_id_token(vhskoop.fetch_token(response.headers["Location"]))
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == factors.MULTI_FACTOR


@pytest.mark.e2e
def test_prompt_none_without_the_factor_a_policy_asks_is_login_required(live, browser,
                                                                        vhskoop):
    browser.login(None, "straubing", ANNA, PASSWORD)
    response = browser.get(vhskoop.authorization_url(prompt="none",
                                                     acr_values=factors.MULTI_FACTOR))
    assert response.status_code == 302
    assert "error=login_required" in response.headers["Location"]


def test_a_console_role_cannot_reach_the_console_without_a_second_factor(app, runner, tenant):
    run(runner, "admins", "grant", "--vhs", "straubing", "--email", ANNA)
    client = app.test_client()
    assert post_login(client).status_code == 303  # no factor yet: the password signs in
    refused = client.get("/admin/vhs/straubing/people")
    assert refused.status_code == 303
    assert refused.headers["Location"] == (
        "/account/zweiter-faktor?next=/admin/vhs/straubing/people")
    assert client.post("/admin/vhs/straubing/kma/link", data={}).status_code == 303
    key = give_totp(app, ANNA)  # the factor, set up (the session still lacks it)
    again = client.get("/admin/vhs/straubing/people")
    assert again.headers["Location"] == "/login/zweiter-schritt"
    done = second_step(client, totp_code(app, ANNA, key))
    assert done.headers["Location"] == "/admin/vhs/straubing/people"
    assert client.get("/admin/vhs/straubing/people").status_code == 200
    assert events(app, "step_up")[-1].source == "totp"


def test_the_console_and_the_cli_reset_a_lost_factor(app, runner, tenant):
    run(runner, "accounts", "add", "--vhs", "straubing", "--email", "dora@vhs-straubing.de",
        "--password-stdin", input=PASSWORD + "\n")
    run(runner, "admins", "grant", "--vhs", "straubing", "--email", ANNA)
    anna_key = give_totp(app, ANNA)
    give_totp(app, "dora@vhs-straubing.de")
    admin = app.test_client()
    post_login(admin)
    second_step(admin, totp_code(app, ANNA, anna_key))
    dora = account_of(app, "dora@vhs-straubing.de")
    page = f"/admin/vhs/straubing/people/{dora.id}"
    shown = text(admin.get(page))
    assert "Authenticator-App" in shown and "Zweiten Faktor zurücksetzen" in shown
    diagnosis = text(admin.post("/admin/vhs/straubing/diagnose", data={
        "csrf_token": form_field(shown, "csrf_token"), "address": "dora@vhs-straubing.de"}))
    assert ("zweiter Faktor: 1 Authenticator-App, 0 Passkeys, 10 Wiederherstellungscodes "
            "übrig") in diagnosis and "entfernt ihn nie" in diagnosis
    token = form_field(shown, "csrf_token")
    asked = admin.post(f"{page}/reset-mfa", data={"csrf_token": token, "back": page})
    assert asked.status_code == 200 and "Zweiten Faktor zurücksetzen?" in text(asked)
    with app.app_context():
        assert factors.has_any(dora.id)  # asked, not done
    done = admin.post(f"{page}/reset-mfa", data={"csrf_token": token, "back": page,
                                                 "confirmed": "1"})
    assert done.status_code == 303
    assert "zurückgesetzt" in text(admin.get(page))
    with app.app_context():
        assert not factors.has_any(dora.id)
        mails = [m.text_body for m in db.session().scalars(select(OutboxMail).where(
            OutboxMail.recipient == "dora@vhs-straubing.de",
            OutboxMail.kind == "factors_changed"))]
    [body] = [body for body in mails if "zurückgesetzt" in body]
    assert "Das hat die Verwaltung Ihrer VHS getan (Anna Muster, Administration der vhs " \
           "Straubing)" in body and "Wenn Sie das nicht selbst waren" not in body
    reset = events(app, "mfa_reset")[-1]
    assert reset.actor == f"console:straubing/{ANNA}" and reset.who == dora.sub
    assert post_login(app.test_client(), email="dora@vhs-straubing.de").headers[
        "Location"] == "/"  # the password alone again, until a new factor
    assert "reset the second factors" in run(runner, "accounts", "reset-mfa", "--vhs",
                                             "straubing", "--email", ANNA)
    run(runner, "accounts", "reset-mfa", "--vhs", "straubing", "--email", ANNA, code=1)


@pytest.mark.parametrize("credential", ["", "{", "[]", '{"id": "x"}', "x" * 9000,
                                        '{"id": 1, "response": null}'])
def test_a_hostile_passkey_answer_is_refused_plainly(make_app, credential):
    app = make_app(ISSUER="http://localhost:5000")  # WebAuthn needs a host name
    client = app.test_client()
    page = client.get("/login/passkey").get_data(as_text=True)
    assert 'id="passkey-options"' in page
    response = client.post("/login/passkey", data={
        "csrf_token": form_field(page, "csrf_token"), "credential": credential})
    assert response.status_code == 401
    assert "Passkey" in text(response)
    assert events(app, "login_failed")[-1].reason == "passkey_refused"


def test_the_passkey_page_says_why_an_ip_issuer_cannot(app, client, make_app, tenant):
    page = text(client.get("/login/passkey"))
    assert app.config["ISSUER"].startswith("http://127.0.0.1")
    assert "nicht unter einer IP-Adresse" in page and "passkey-options" not in page
    assert "Mit Passkey anmelden" not in text(client.get("/login"))  # not offered there
    named = make_app(ISSUER="http://localhost:5000").test_client()
    assert "Mit Passkey anmelden" in text(named.get("/login"))


@pytest.mark.parametrize("typed", ["\u00e4" * 6, "<script>", "12345\u0663", "x" * 5000,
                                   " 1 2 3 ", "１２３４５６", "-1", "9" * 64])
def test_hostile_codes_are_wrong_codes_never_errors(app, tenant, typed):
    give_totp(app, ANNA)
    client = app.test_client()
    post_login(client)
    for method in ("totp", "recovery", "other"):
        response = second_step(client, typed, method=method)
        assert response.status_code in (400, 401, 303), (method, response.status_code)
    assert client.get("/account").status_code == 302  # nobody signed in
