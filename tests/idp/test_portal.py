"""itm:PORTAL logins: the connector against the simulator over real HTTP, the login
decision (portal first, never a local fallback), sub stability, and the mails."""

from __future__ import annotations

import time

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from idp import db
from idp.connectors import PortalUnavailable
from idp.connectors.base import CircuitBreaker
from idp.connectors.portal import HttpPortalConnector, PortalSettings
from idp.dev.portal_sim import PortalSimulator
from idp.models import Account

from ..helpers import (
    PASSWORD,
    assert_signed_in_anew,
    cookie,
    deliver,
    give_totp,
    open_reset_link,
    plant_browser_session,
    post_login,
    run,
    second_step,
    submit,
    totp_code,
)

CREDENTIAL = "portal-api-credential-0123456789"
PORTAL_PASSWORD = "Portal-Passwort-2026"


@pytest.fixture
def portal():
    """The itm:PORTAL of vhs Straubing, with Anna as staff user."""
    users = [{"email": "anna.muster@vhs-straubing.de", "id": "p-17", "name": "Anna Muster",
              "password_hash": PasswordHasher().hash(PORTAL_PASSWORD)}]
    simulator = PortalSimulator(users, CREDENTIAL, delay=3).start()
    yield simulator
    simulator.stop()


def connector(portal, read_timeout=1.0, breaker=None):
    return HttpPortalConnector(PortalSettings(base_url=portal.url, credential=CREDENTIAL,
                                              connect_timeout=1, read_timeout=read_timeout),
                               "straubing", breaker)


def test_connector_lookup_and_login(portal):
    remote = connector(portal)
    assert remote.lookup("anna.muster@vhs-straubing.de") is True
    assert remote.lookup("niemand@vhs-straubing.de") is False
    person = remote.login("anna.muster@vhs-straubing.de", PORTAL_PASSWORD)
    assert person.subject == "p-17" and person.name == "Anna Muster"
    assert (person.vhs, person.address, person.via) == ("straubing",
                                                        "anna.muster@vhs-straubing.de", "portal")
    assert not person.confirmed  # the account is authn's to find
    assert remote.login("anna.muster@vhs-straubing.de", "falsch") is None
    assert remote.password_reset_url("x") == portal.url + "/passwort-vergessen"


@pytest.mark.parametrize("mode", ["slow", "error", "html", "redirect", "truncated", "huge",
                                  "garbage"])
def test_every_fault_is_unavailability_never_a_login(portal, mode):
    portal.mode = mode
    remote = connector(portal, read_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(PortalUnavailable):
        remote.login("anna.muster@vhs-straubing.de", PORTAL_PASSWORD)
    assert time.monotonic() - started < 2.5  # within the configured timeouts


def test_wrong_credential_is_unavailability(portal):
    remote = HttpPortalConnector(PortalSettings(base_url=portal.url, credential="x" * 20),
                                 "straubing")
    with pytest.raises(PortalUnavailable, match="401"):
        remote.lookup("anna.muster@vhs-straubing.de")


def test_circuit_breaker_opens_and_closes(portal):
    now = [1000.0]
    breaker = CircuitBreaker(threshold=3, cooldown=30, clock=lambda: now[0])
    remote = connector(portal, breaker=breaker)
    portal.mode = "error"
    for _ in range(3):
        with pytest.raises(PortalUnavailable, match="500"):
            remote.lookup("anna.muster@vhs-straubing.de")
    asked = portal.requests
    with pytest.raises(PortalUnavailable, match="circuit open"):
        remote.lookup("anna.muster@vhs-straubing.de")
    assert portal.requests == asked  # a quick failure, the portal was not asked
    now[0] += 31
    portal.mode = "normal"
    assert remote.lookup("anna.muster@vhs-straubing.de") is True  # half-open trial
    assert breaker.state == "closed"


@pytest.mark.parametrize(("url", "credential"), [
    ("http://portal.example.org", CREDENTIAL), ("https://a.example/", CREDENTIAL),
    ("https://a.example", "short"), ("ftp://a.example", CREDENTIAL),
])
def test_portal_settings_are_checked(url, credential):
    with pytest.raises(ValueError):
        PortalSettings(base_url=url, credential=credential).check()


@pytest.fixture
def portal_vhs(runner, portal, smtp):
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    run(runner, "vhs", "set-portal", "straubing", "--base-url", portal.url,
        "--credential-stdin", input=CREDENTIAL + "\n")
    run(runner, "vhs", "set-mail", "straubing", "--host", "127.0.0.1", "--port", str(smtp.port),
        "--security", "none", "--sender", "info@vhs-straubing.de")
    return portal


def test_portal_password_counts_and_the_local_one_no_longer(app, runner, portal_vhs, smtp):
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
    with app.app_context():
        sub = db.session().scalar(select(Account.sub))
    assert post_login(app.test_client()).status_code == 401  # local password: no longer
    ok = post_login(app.test_client(), password=PORTAL_PASSWORD)
    assert ok.status_code == 303
    with app.app_context():
        account = db.session().scalar(select(Account))
        assert account.sub == sub and account.source == "portal"  # the same person
        assert account.password_hash is None
    post_login(app.test_client(), password=PORTAL_PASSWORD)
    deliver(app)
    switched = [m for m in smtp.messages if "itm:PORTAL" in m["Subject"]]
    assert len(switched) == 1  # told once
    assert "funktioniert nicht mehr" in switched[0].get_body(("plain",)).get_content()


def test_a_portal_password_sign_in_renews_the_session_and_voids_reset_links(app, runner,
                                                                           portal_vhs):
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
    reset_link = open_reset_link(app, "straubing", "anna.muster@vhs-straubing.de")
    client = app.test_client()
    assert post_login(client, password=PORTAL_PASSWORD).status_code == 303
    old_sso = cookie(client, "idp_sso")
    plant_browser_session(app, client.set_cookie)
    assert post_login(client, password=PORTAL_PASSWORD).status_code == 303
    assert_signed_in_anew(app, old_sso, cookie(client, "idp_sso"),
                          cookie(client, "idp_session"), reset_link)


def test_portal_user_without_local_account_gets_one(app, portal_vhs):
    assert post_login(app.test_client(), password=PORTAL_PASSWORD).status_code == 303
    with app.app_context():
        account = db.session().scalar(select(Account))
        assert account.source == "portal" and account.display_name == "Anna Muster"


def test_a_portal_person_adds_a_factor_here_and_is_asked_for_it(app, portal_vhs):
    client = app.test_client()
    assert post_login(client, password=PORTAL_PASSWORD).headers["Location"] == "/"
    page = client.get("/account/zweiter-faktor").get_data(as_text=True)
    assert "Authenticator-App einrichten" in page  # whoever checks the password
    key = give_totp(app, "anna.muster@vhs-straubing.de")
    again = app.test_client()
    assert post_login(again, password=PORTAL_PASSWORD).headers["Location"] == (
        "/login/zweiter-schritt")  # the portal's password, then the factor kept here
    code = totp_code(app, "anna.muster@vhs-straubing.de", key)
    assert second_step(again, code).headers["Location"] == "/"


def test_dead_portal_fails_clearly_and_never_falls_back(app, runner, portal_vhs):
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
    portal_vhs.mode = "error"
    for password in (PASSWORD, PORTAL_PASSWORD):
        refused = post_login(app.test_client(), password=password)
        assert refused.status_code == 503
        assert "itm:PORTAL Ihrer VHS" in refused.get_data(as_text=True)


def test_new_access_and_reset_for_a_portal_user_point_to_the_portal(app, client, portal_vhs,
                                                                    smtp):
    submit(client, "/passwort-vergessen", "anna.muster@vhs-straubing.de")
    deliver(app)
    [message] = smtp.messages
    body = message.get_body(("plain",)).get_content()
    assert portal_vhs.url + "/passwort-vergessen" in body
    assert "Ein zweiter Zugang ist nicht nötig" in body


def test_diagnose_names_the_portal_login(runner, portal_vhs):
    output = run(runner, "diagnose", "--vhs", "straubing", "--email",
                 "anna.muster@vhs-straubing.de", code=1)
    assert "itm:PORTAL has a staff login for the address" in output


def test_new_access_for_a_portal_user_says_to_use_the_portal_login(app, client, portal_vhs,
                                                                   smtp):
    submit(client, "/neuer-zugang", "anna.muster@vhs-straubing.de")
    submit(client, "/neuer-zugang", "niemand@vhs-straubing.de")
    deliver(app)
    [message] = smtp.messages
    assert message["To"] == "anna.muster@vhs-straubing.de"
    assert "bereits einen Mitarbeitenden-Login im itm:PORTAL" in message.get_body(
        ("plain",)).get_content()
    with app.app_context():
        assert db.session().scalar(select(Account)) is None  # no second account
