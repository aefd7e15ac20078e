"""The second factor in Chromium, on the demo served as http://localhost (WebAuthn needs a
host name): a passkey registered on /account with Chromium's virtual authenticator (CDP
``WebAuthn.addVirtualAuthenticator``), "Mit Passkey anmelden", the passkey as the second
step after the password, and TOTP set up by reading the text secret. Each new page passes
axe and is photographed (de-mfa-*.png, axe's findings in axe-mfa.json, in the
screenshots folder of conftest.py)."""

from __future__ import annotations

import json

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import select

from idp import db
from idp.dev import demo, world
from idp.models import SsoSession

from ..helpers import LiveServer, secret
from .conftest import SHOTS

pytestmark = pytest.mark.browser

DANA = world.MUSTERSTADT.people[0]
AXE: dict[str, list[str]] = {}


@pytest.fixture
def named_site(make_app, tmp_path):
    """The demo at http://localhost:PORT (the relying party id is the host name)."""
    live = LiveServer(make_app, host_name="localhost", **demo.SETTINGS)
    story = demo.Demo(live.app, tmp_path / "demo")
    live.serve(story.wsgi())
    with live.app.app_context():
        db.transaction(story.seed)()
    yield live
    story.stop()
    live.stop()


@pytest.fixture
def tab(chromium, named_site):
    """A German window with a virtual platform authenticator (resident keys, user
    verification that always succeeds)."""
    context = chromium.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})
    yield page
    context.close()


def photograph(page, name: str) -> None:
    """axe finds nothing serious; the page is photographed."""
    page.wait_for_load_state()
    violations = Axe().run(page).response["violations"]
    AXE[name] = sorted(f"{v['impact']}: {v['id']} ({len(v['nodes'])})" for v in violations)
    serious = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], (name, serious)
    page.screenshot(path=SHOTS / f"de-mfa-{name}.png", full_page=True)
    (SHOTS / "axe-mfa.json").write_text(json.dumps(AXE, indent=1, sort_keys=True) + "\n")


def password_login(page, site) -> None:
    page.goto(site.url + "/login")
    page.fill("#tenant-search", "muster")
    page.get_by_role("option", name="vhs Musterstadt").click()
    page.fill("#email", DANA.address)
    page.fill("#password", demo.PASSWORD)
    page.get_by_role("button", name="Anmelden").click()


def sign_out(page, site) -> None:
    page.goto(site.url + "/")
    page.get_by_role("button", name="Abmelden").click()
    expect(page.get_by_role("heading", name="Sie sind abgemeldet")).to_be_visible()


def test_a_passkey_registered_on_the_account_page_signs_in_alone_and_as_second_step(
        tab, named_site):
    site = named_site
    password_login(tab, site)
    tab.goto(site.url + "/account")
    tab.get_by_role("link", name="Zweiten Faktor einrichten").click()
    photograph(tab, "factors")
    tab.get_by_role("button", name="Passkey hinzufügen").click()  # no name yet: said so
    expect(tab.locator("#passkey-problem")).to_contain_text("Namen")
    tab.fill("#passkey-name", "Laptop")
    tab.get_by_role("button", name="Passkey hinzufügen").click()
    expect(tab.get_by_role("status").first).to_have_text("Der Passkey ist gespeichert.")
    expect(tab.locator("ol.codes li")).to_have_count(10)
    expect(tab.get_by_text("Laptop", exact=True)).to_be_visible()
    photograph(tab, "recovery-codes")
    sign_out(tab, site)

    tab.goto(site.url + "/login")
    tab.get_by_role("link", name="Mit Passkey anmelden").click()
    photograph(tab, "passkey-login")
    tab.get_by_role("button", name="Passkey verwenden").click()
    expect(tab.get_by_role("heading", name="Sie sind angemeldet")).to_be_visible()
    with site.app.app_context():
        amr = db.session().scalars(select(SsoSession.amr).where(
            SsoSession.ended_at.is_(None))).all()
    assert amr == [["hwk", "user", "mfa"]]  # device-bound, user verified: two factors
    sign_out(tab, site)

    password_login(tab, site)  # the password alone is no longer enough
    expect(tab.get_by_role("heading", name="Anmeldung bestätigen")).to_be_visible()
    photograph(tab, "second-step-passkey")
    tab.get_by_role("button", name="Mit Passkey bestätigen").click()
    expect(tab.get_by_role("heading", name="Sie sind angemeldet")).to_be_visible()
    tab.goto(site.url + "/account/zweiter-faktor")
    expect(tab.get_by_text("zuletzt verwendet")).to_be_visible()


def test_totp_is_set_up_by_typing_the_text_secret_then_asked_after_the_password(
        tab, named_site):
    site = named_site
    password_login(tab, site)
    tab.goto(site.url + "/account/zweiter-faktor")
    tab.get_by_role("button", name="Authenticator-App einrichten").click()
    expect(tab.locator("svg.qr")).to_be_visible()
    photograph(tab, "totp-setup")
    key = secret(tab.locator("#totp-secret").inner_text().strip())  # typed into the app
    tab.fill("#code", pyotp.TOTP(key).now())
    tab.get_by_role("button", name="App bestätigen").click()
    expect(tab.get_by_role("status").first).to_have_text("Die Authenticator-App ist "
                                                         "eingerichtet.")
    sign_out(tab, site)
    password_login(tab, site)
    expect(tab.get_by_label("Code aus der Authenticator-App")).to_be_visible()
    photograph(tab, "second-step-totp")
    tab.fill("#code", "000000")
    tab.get_by_role("button", name="Bestätigen").click()
    expect(tab.locator(".error-summary")).to_contain_text("Der Code stimmt nicht")
    tab.get_by_role("link", name="Wiederherstellungscode").click()
    expect(tab.get_by_label("Wiederherstellungscode")).to_be_visible()
