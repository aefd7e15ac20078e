""""Meine Daten" (GDPR Art. 15 and 20): the page and its JSON download hold everything
about the person, and nothing secret."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from idp import db
from idp.models import Account, AccountToken, Passkey, TotpFactor

from ..helpers import (
    PASSWORD,
    RelyingParty,
    add_client,
    form_field,
    give_totp,
    plant_help_and_mails,
    sign_in,
)

ANNA = "anna.muster@vhs-straubing.de"


def _two_services(live, browser) -> None:
    """Anna signs in at vhsKOOP (first party) and at itm:FEEDBACK (asks consent)."""
    koop_secret = add_client(live, "vhskoop", "--first-party", "--name", "vhsKOOP")
    feedback_secret = add_client(live, "feedback", "--name", "itm:FEEDBACK")
    koop = RelyingParty(live.url, "vhskoop", koop_secret, scope="openid profile email")
    assert koop.fetch_token(sign_in(live, browser, koop))["access_token"]
    feedback = RelyingParty(live.url, "feedback", feedback_secret, scope="openid email")
    page = browser.get(feedback.authorization_url())
    assert page.status_code == 200 and "Zugriff erlauben?" in page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    answer = browser.post(action.replace("&amp;", "&"), {
        "csrf_token": form_field(page.text, "csrf_token"), "allow": "Zulassen"})
    assert answer.status_code == 302
    assert feedback.fetch_token(answer.headers["Location"])["access_token"]


def _plant_passkey(app) -> None:
    with app.app_context():
        account = db.session().scalar(select(Account).where(Account.address == ANNA))
        db.session().add(Passkey(account_id=account.id, credential_id="cred-1",
                                 public_key=b"\x01\x02", name="Dienstlaptop", synced=True))
        db.session().commit()


def test_meine_daten_holds_the_account_its_sessions_services_factors_mails_help_and_events(
        live, browser):
    _two_services(live, browser)
    give_totp(live.app, ANNA)
    _plant_passkey(live.app)
    plant_help_and_mails(live.app, ANNA)

    download = browser.get("/account/data.json")
    assert download.status_code == 200
    assert download.headers["Content-Type"].startswith("application/json")
    assert download.headers["Content-Disposition"] == \
        'attachment; filename="meine-daten-straubing.json"'
    assert download.headers["Cache-Control"] == "no-store"
    held = download.json()

    account = held["account"]
    assert held["format"] == "vhskoop-idp/personal-data/1"
    assert (account["vhs"], account["email"], account["name"], account["origin"]) == (
        {"slug": "straubing", "name": "vhs Straubing"}, ANNA, "Anna Muster", "new_access")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", account["created_at"])
    assert account["last_sign_in_at"] is not None
    assert [(s["network"], s["ended_at"]) for s in held["sessions"]] == [("127.0.0.0/24", None)]

    services = {s["client_id"]: s for s in held["services"]}
    assert set(services) == {"vhskoop", "feedback"}
    assert services["vhskoop"]["consent"] is None  # first party: never asked
    assert services["vhskoop"]["claims"] == {
        "sub": account["sub"], "vhs": "straubing", "vhs_name": "vhs Straubing",
        "name": "Anna Muster", "email": ANNA, "email_verified": True}
    assert services["vhskoop"]["tokens_in_force"] == 1
    assert services["feedback"]["consent"]["scopes"] == ["email", "openid"]
    assert services["feedback"]["claims"] == {  # no name: profile was not asked for
        "sub": account["sub"], "vhs": "straubing", "vhs_name": "vhs Straubing", "email": ANNA,
        "email_verified": True}

    factors = held["second_factors"]
    assert factors["authenticator_app"]["confirmed"] is True
    assert [(p["name"], p["synced"]) for p in factors["passkeys"]] == [("Dienstlaptop", True)]
    assert factors["recovery_codes_left"] == 10

    mails = sorted((m["kind"], m["state"]) for m in held["mails"])
    assert mails == [("activation", "delivered"), ("activation", "waiting"),
                     ("factors_changed", "waiting")], mails  # the notice of the new app
    [request] = held["help_requests"]
    assert request["message"] == "Ich komme nicht rein"
    assert request["diagnosis"] == [{"ok": False,
                                     "text": "Die Adresse ist im Programm nicht freigegeben.",
                                     "advice": "Im Programm freigeben."}]
    kinds = [event["kind"] for event in held["audit_events"]]
    assert kinds.count("login") == 1 and "consent" in kinds and "mfa_change" in kinds
    assert all(event["text"] and "_" not in event["text"] for event in held["audit_events"])

    page = browser.get("/account/data").text
    for shown in ("vhs Straubing", ANNA, account["sub"], "127.0.0.0/24", "vhsKOOP",
                  "itm:FEEDBACK", "Authenticator-App", "Passkey „Dienstlaptop“",
                  "10 Wiederherstellungscodes übrig", "zugestellt", "wartet auf Versand",
                  "Ich komme nicht rein", "Die Adresse ist im Programm nicht freigegeben.",
                  "Einwilligung", 'href="/account/data.json"'):
        assert shown in page, shown
    assert "Meine Daten ansehen" in browser.get("/account").text


def test_meine_daten_holds_nothing_secret(live, browser):
    rp = RelyingParty(live.url, "vhskoop", add_client(live, "vhskoop", "--first-party"))
    token = rp.fetch_token(sign_in(live, browser, rp))
    key = give_totp(live.app, ANNA)
    text = browser.get("/account/data.json").text
    with live.app.app_context():
        session = db.session()
        account = session.scalar(select(Account).where(Account.address == ANNA))
        stored = [account.password_hash, session.scalar(select(TotpFactor.secret))]
        stored += list(session.scalars(select(AccountToken.token_hash)))
    for value in [PASSWORD, key, token["access_token"], token["refresh_token"],
                  token["id_token"], *stored]:
        assert value not in text
    assert json.loads(text)["account"]["email"] == ANNA


def test_meine_daten_needs_a_sign_in(live, browser):
    for path in ("/account/data", "/account/data.json"):
        answer = browser.get(path)
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/login?next=/account/data")


def test_meine_daten_says_when_the_program_stopped_listing_the_person_and_an_exception(
        live, browser):
    assert browser.login(None, "straubing", ANNA, PASSWORD).status_code == 303
    with live.app.app_context():
        account = db.session().scalar(select(Account).where(Account.address == ANNA))
        account.leaving_since, account.keep_until = 1_700_000_000, 1_900_000_000
        account.keep_reason = "Elternzeit"
        db.session().commit()
    held = browser.get("/account/data.json").json()["account"]
    assert held["program_says_no_since_at"] == "2023-11-14T22:13:20Z"
    assert (held["kept_until_at"], held["keep_reason"]) == ("2030-03-17T17:46:40Z",
                                                            "Elternzeit")
    page = browser.get("/account/data").text
    assert "führt Sie seit 14.11.2023" in page and "Elternzeit" in page
