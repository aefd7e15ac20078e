"""Every page a person can meet, in German and English, at 1280 and 390 px wide: axe-core
finds no serious or critical violation, nothing is wider than the window (down to 320 px),
every page has its own title, and a screenshot of each page (1280 px) goes to
the screenshots folder of conftest.py, axe's findings beside them (axe.json)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import update

from idp import clients, db, lifecycle
from idp.dev import world
from idp.models import EligibilityCheck, now

from ..helpers import free_port, link_in
from .conftest import SHOTS, deliver_everything

pytestmark = pytest.mark.browser

LOCALES = {"de": "de-DE", "en": "en-GB"}
WIDTHS = (1280, 390)
NARROWEST = 320
BLOCKING = ("serious", "critical")
NEW_PASSWORD = "Morgens Kaffee, mittags Kurse"


def choose(page, typed: str) -> None:
    """Pick the first VHS the combobox offers for ``typed``, by keyboard."""
    page.fill("#tenant-search", typed)
    page.get_by_role("option").first.wait_for()  # the list is drawn: keys before it were lost
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("select[name=tenant]")).not_to_have_value("")


def last_link(site, path: str) -> str:
    deliver_everything(site)
    return next(link_in(m) for m in reversed(site.story.mailbox.messages)
                if path in m.get_body(("plain",)).get_content())


def partner(site) -> str:
    """A third-party service (not first-party: it asks for consent); its /authorize URL."""
    callback = f"http://127.0.0.1:{free_port()}/callback"
    with site.app.app_context():
        db.transaction(clients.register)(clients.Registration(
            client_id="partner", redirect_uris=[callback], secret="s" * 40,
            display_name="Partnerdienst Kursbewertung", scope="openid profile email"))
    return site.url + "/authorize?" + urlencode({
        "client_id": "partner", "response_type": "code", "scope": "openid profile email",
        "redirect_uri": callback, "state": "tour", "nonce": "tour"})


def tour(page, site):
    """Walk the demo the way a newcomer does; yield a name at every page reached."""
    nora = world.MUSTERSTADT.people[1].address
    base = site.url
    page.goto(base + "/demo/")
    yield "demo"
    page.goto(base + "/demo/vhskoop/")
    yield "service"
    page.click("#login")
    yield "login"
    page.fill("#email", "name@")
    page.click("button.primary")
    expect(page.locator("#error-summary")).to_be_visible()
    yield "login-errors"
    page.goto(base + "/hilfe")
    yield "help"
    page.goto(base + "/hilfe/bitten")
    yield "ask-help"
    choose(page, "musterst")
    page.fill("#email", world.MUSTERSTADT.people[5].address)  # Tom, whose address has a typo
    page.click("button.primary")
    page.goto(last_link(site, "/hilfe/anfrage"))
    yield "help-request"
    page.click("button.primary")
    yield "help-sent"
    page.goto(base + "/neuer-zugang")
    yield "new-access"
    choose(page, "musterst")
    page.fill("#email", "kein-at-zeichen")
    page.click("button.primary")
    expect(page.locator("#error-summary")).to_be_visible()
    yield "new-access-errors"
    page.fill("#email", nora)
    page.click("button.primary")
    yield "request-sent"
    activation = last_link(site, "/zugang/aktivieren")
    page.goto(base + "/demo/mails")
    yield "mails"
    page.goto(activation)
    yield "set-password"
    page.fill("#password", "kurz")
    page.fill("#confirm", "anders")
    page.click("button.primary")
    expect(page.locator("#error-summary")).to_be_visible()
    yield "set-password-errors"
    page.fill("#password", NEW_PASSWORD)
    page.fill("#confirm", NEW_PASSWORD)
    page.click("button.primary")
    yield "password-set"
    page.goto(activation)
    yield "already-active"
    page.goto(base + "/zugang/aktivieren?token=abgelaufen-oder-falsch")
    yield "link-problem"
    page.goto(base + "/")
    yield "home-signed-in"
    page.goto(base + "/demo/vhskoop/login")
    expect(page.locator("#person")).to_be_visible()
    yield "service-signed-in"
    page.goto(base + "/account")
    yield "account"
    page.goto(base + "/account/data")
    expect(page.locator("a[href='/account/data.json']")).to_be_visible()
    yield "account-data"
    page.goto(base + "/account/delete")  # signed in seconds ago: the confirmation, no login
    expect(page.locator("form[action$='/account/delete'] button.primary")).to_be_visible()
    yield "account-delete"
    page.goto(partner(site))
    yield "consent"
    page.goto(base + "/end_session")
    yield "logout-confirm"
    page.click("button.primary")
    yield "logged-out"
    page.goto(base + "/")
    yield "home"
    page.goto(base + "/passwort-vergessen")
    yield "forgot-password"
    choose(page, "musterst")
    page.fill("#email", nora)
    page.click("button.primary")
    page.goto(last_link(site, "/passwort-neu"))
    yield "reset-password"
    page.get_by_role("link", name=re.compile("^(Datenschutz|Privacy)$")).click()  # the footer
    expect(page.locator("h1")).to_contain_text(re.compile("Datenschutzhinweise|Privacy notice"))
    yield "privacy-notice"
    nora_id = world.MUSTERSTADT.people[1].id  # the program gives Nora a new address
    page.goto(base + "/demo/programs/musterstadt")
    page.fill(f"#email-{nora_id}", "nora.neu@vhs-musterstadt.de")
    page.locator(f"form:has(#email-{nora_id}) button").click()
    with site.app.app_context():  # the next lifecycle pass finds her a mover
        db.session().execute(update(EligibilityCheck).values(checked_at=0))
        db.transaction(lifecycle.run)(now())
    page.goto(last_link(site, "/adresse-bestaetigen"))
    yield "confirm-move"
    page.click("button.primary")
    expect(page.locator("[role=status]")).to_contain_text("nora.neu@vhs-musterstadt.de")
    yield "moved"
    page.goto(base + "/authorize?client_id=unbekannt&response_type=code&scope=openid")
    yield "authorize-error"
    page.goto(base + "/gibt-es-nicht")
    yield "not-found"


@pytest.fixture(scope="module")
def axe():
    return Axe()


@pytest.fixture(scope="module")
def findings():
    """axe's findings per language, width and page; written beside the screenshots."""
    found: dict = {}
    yield found
    if len(found) == len(LOCALES) * len(WIDTHS):
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "axe.json").write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")


# once: axe, the fit at each width and the screenshots judge the pages' markup, which is
# the same on either database (the story tests run on both)
@pytest.mark.once
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LOCALES)
def test_every_page_passes_axe_fits_the_window_and_is_photographed(
        chromium, site, axe, findings, lang, width):
    context = chromium.new_context(locale=LOCALES[lang], viewport={"width": width,
                                                                    "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    blocking, too_wide, titles = {}, [], {}
    seen = findings.setdefault(f"{lang}-{width}", {})
    for name in tour(page, site):
        page.wait_for_load_state()
        assert page.evaluate("document.documentElement.lang") == lang, name
        titles[name] = page.title()
        violations = axe.run(page).response["violations"]
        seen[name] = sorted(f"{v['impact']}: {v['id']} ({len(v['nodes'])})" for v in violations)
        blocking.update({f"{name}: {v['id']}": [n["target"] for n in v["nodes"]]
                         for v in violations if v["impact"] in BLOCKING})
        for wide in (width, NARROWEST) if width < 1000 else (width,):
            page.set_viewport_size({"width": wide, "height": 900})
            if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
                too_wide.append(f"{name} at {wide} px")
        page.set_viewport_size({"width": width, "height": 900})
        if width == WIDTHS[0]:
            page.screenshot(path=SHOTS / f"{lang}-{name}.png", full_page=True)
        elif name == "login":
            page.screenshot(path=SHOTS / f"{lang}-{name}-{width}.png", full_page=True)
    context.close()
    assert len(seen) == 33
    assert not blocking, blocking
    assert not too_wide, too_wide
    provider_titles = [t for n, t in titles.items() if n not in ("service", "service-signed-in")]
    assert all(t.endswith(" – vhsKOOP") for t in provider_titles), titles
    assert len(set(titles.values())) >= 20, titles  # a title per page, not one for all



def test_axe_does_see_a_broken_page(page, site, axe):
    """The check above can fail: the same axe run finds a picture without text and a
    field without a label once they are put on the login page."""
    page.goto(site.url + "/login")
    page.evaluate("""() => {
        const main = document.querySelector('main');
        main.insertAdjacentHTML('beforeend',
            '<img src="/static/logos/vhskoop.svg"><input type="text" name="unlabelled">');
    }""")
    found = {v["id"]: v["impact"] for v in axe.run(page).response["violations"]}
    assert found.get("image-alt") == "critical" and found.get("label") == "critical", found
