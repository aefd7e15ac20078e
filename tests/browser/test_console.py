"""The console in Chromium, on the demo: an administrator finds why a person cannot get
in, the VHS fixes its program, the person then gets in; every console page passes axe
and is photographed (de-console-*.png, axe's findings in axe-console.json, in the
screenshots folder of conftest.py)."""

from __future__ import annotations

import json
import time

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from idp import db, help, roles
from idp.dev import demo, world
from idp.models import Role

from ..helpers import FORBIDDEN, totp_code
from .conftest import SHOTS, deliver_everything

pytestmark = pytest.mark.browser

ADMIN = world.ADMIN  # with an authenticator app: the console asks every role for it
TOM = world.MUSTERSTADT.people[5]
FRIEDA = world.MUSTERSTADT.people[2]
NEW_PASSWORD = "Abends Kurse, morgens Kaffee"


def choose_vhs(page, typed: str, name: str) -> None:
    page.fill("#tenant-search", typed)
    page.get_by_role("option", name=name).click()


def sign_in_to_the_console(page, site) -> None:
    page.goto(site.url + "/admin/")
    choose_vhs(page, "muster", "vhs Musterstadt")
    page.fill("#email", ADMIN.address)
    page.fill("#password", demo.PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("heading", name="Anmeldung bestätigen")).to_be_visible()
    page.fill("#code", totp_code(site.app, ADMIN.address, demo.ADMIN_TOTP))
    page.get_by_role("button", name="Bestätigen").click()
    expect(page.get_by_role("heading", name="Personen")).to_be_visible()


def diagnose(page, site, address: str) -> None:
    page.get_by_role("link", name="Warum kommt jemand nicht rein?").click()
    page.fill("#address", address)
    page.get_by_role("button", name="Prüfen", exact=True).click()


def ask_for_access(page, site, address: str) -> None:
    page.goto(site.url + "/neuer-zugang")
    choose_vhs(page, "muster", "vhs Musterstadt")
    page.fill("#email", address)
    page.get_by_role("button", name="Abschicken").click()
    expect(page.get_by_role("heading", name="Bitte sehen Sie in Ihr Postfach")).to_be_visible()


def test_an_administrator_finds_why_tom_cannot_get_in_and_tom_then_activates(chromium, page,
                                                                             site):
    tom = chromium.new_context(locale="de-DE").new_page()
    ask_for_access(tom, site, TOM.address)  # the program has a typo: no activation mail
    sign_in_to_the_console(page, site)
    diagnose(page, site, TOM.address)
    expect(page.get_by_text("Die Person kommt so nicht hinein.")).to_be_visible()
    expect(page.locator(".finding.bad")).to_contain_text(
        "die Adresse steht nicht in der Benutzerverwaltung")
    expect(page.locator(".advice").first).to_contain_text("genau so ein, wie die Person")
    page.get_by_role("link", name="Zugangsanfragen").click()
    expect(page.locator("tbody tr").first).to_contain_text("im Verwaltungsprogramm nicht gefunden")
    page.goto(site.url + f"/demo/programs/{world.MUSTERSTADT.slug}")  # the VHS's program
    page.fill("#email-6", TOM.address)
    page.locator("form.program-row").nth(5).get_by_role("button", name="Speichern").click()
    page.goto(site.url + "/admin/")
    diagnose(page, site, TOM.address)
    expect(page.get_by_text("Die Person kann einen Zugang bekommen")).to_be_visible()
    ask_for_access(tom, site, TOM.address)
    deliver_everything(site)
    tom.goto(site.url + "/demo/mails")
    tom.goto(tom.locator("a[href*='/zugang/aktivieren']").first.get_attribute("href"))
    tom.fill("#password", NEW_PASSWORD)
    tom.fill("#confirm", NEW_PASSWORD)
    tom.get_by_role("button", name="Passwort speichern").click()
    expect(tom.get_by_role("heading", name="Ihr Zugang ist aktiv")).to_be_visible()
    expect(tom.get_by_role("status")).to_have_text("Sie sind angemeldet.")
    page.get_by_role("link", name="Personen").click()
    expect(page.get_by_role("link", name=TOM.address)).to_be_visible()
    tom.context.close()


def test_the_flag_im_internet_anzeigen_is_found_and_fixed(page, site):
    sign_in_to_the_console(page, site)
    diagnose(page, site, FRIEDA.address)
    expect(page.locator(".finding.bad")).to_contain_text("„Im Internet anzeigen“ ist nicht "
                                                         "gesetzt")
    page.goto(site.url + f"/demo/programs/{world.MUSTERSTADT.slug}")
    page.locator("form.program-row").nth(2).get_by_label(
        "Im Internet anzeigen (Reiter „Schalter“)").check()
    page.locator("form.program-row").nth(2).get_by_role("button", name="Speichern").click()
    page.goto(site.url + "/admin/")
    diagnose(page, site, FRIEDA.address)
    expect(page.get_by_text("„Im Internet anzeigen“ ist gesetzt")).to_be_visible()
    expect(page.locator(".finding.bad")).to_have_count(0)


def console_tour(page, site):
    """Every console page; a name for each."""
    with site.app.app_context():  # a help request at each kind of VHS, to be read
        db.transaction(help.ask)(world.MUSTERSTADT.slug, TOM.address, "Bitte helfen Sie mir.")
        db.transaction(help.ask)(world.BEISPIELKREIS.slug, world.BEISPIELKREIS.people[0].address,
                                 None)
    sign_in_to_the_console(page, site)
    yield "people"
    page.get_by_role("link", name=ADMIN.address).click()
    yield "person"
    page.goto(site.url + "/admin/vhs/musterstadt/people")
    page.get_by_role("link", name=world.MUSTERSTADT.people[0].address).click()
    page.get_by_role("button", name="Zugang löschen").click()  # only asks, and why
    expect(page.get_by_role("heading", name="Zugang löschen?")).to_be_visible()
    yield "delete-person"
    diagnose(page, site, world.MUSTERSTADT.people[3].address)
    yield "diagnose"
    diagnose(page, site, TOM.address)
    yield "diagnose-tom"
    for link, name in (("Zugangsanfragen", "requests"), ("Hilfe-Anfragen", "help"),
                       ("KMA-Verknüpfungen", "kma"),
                       ("Mailserver", "mail"), ("Verwaltungsprogramm", "program"),
                       ("Verzeichnis der Verarbeitungstätigkeiten", "record")):
        page.get_by_role("link", name=link, exact=True).click()
        yield name
    with site.app.app_context():  # now ITEM's operator too
        db.transaction(roles.grant)("musterstadt", ADMIN.address, Role.OPERATOR, "test")
    page.reload()
    for link, name in (("Alle VHS", "all-vhs"), ("Übersicht", "dashboard"),
                       ("Hilfe für ITEM", "item-help"),
                       ("Dienste", "clients"), ("Schlüssel", "keys"),
                       ("Postausgang", "outbox"), ("Protokoll", "audit")):
        page.get_by_role("link", name=link, exact=True).click()
        yield name
    page.goto(site.url + "/admin/clients/vhskoop")
    yield "client"
    page.goto(site.url + "/admin/vhs/musterstadt/settings")
    yield "settings"


# once: axe, the fit at each width and the screenshots judge the pages' markup, which is
# the same on either database (the story tests run on both)
@pytest.mark.once
def test_every_console_page_passes_axe_fits_the_window_and_is_photographed(page, site):
    axe = Axe()
    blocking, seen, too_wide, visited, code_words = {}, {}, [], {}, []
    for name in console_tour(page, site):
        page.wait_for_load_state()
        visited[name] = page.url
        # what the administrator reads: no code words (identifiers shown as code, a kid or a
        # pseudonym, are random base64url, where "-p_h-" is no code word)
        text = page.evaluate("""() => [...document.querySelectorAll('code')].reduce(
            (text, code) => text.replace(code.innerText, ''), document.body.innerText)""")
        code_words += [(name, what, found.group(0)) for pattern, what in FORBIDDEN
                       if (found := pattern.search(text))]
        assert page.title().endswith("– vhsKOOP"), name
        if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
            too_wide.append(name)
        violations = axe.run(page).response["violations"]
        seen[name] = sorted(f"{v['impact']}: {v['id']} ({len(v['nodes'])})" for v in violations)
        blocking.update({f"{name}: {v['id']}": [n["target"] for n in v["nodes"]]
                         for v in violations if v["impact"] in ("serious", "critical")})
        page.screenshot(path=SHOTS / f"de-console-{name}.png", full_page=True)
    assert code_words == []
    assert len(seen) == 20
    unlabelled = []
    for width in (390, 320):  # a phone: every console page fits, and passes axe there too
        page.set_viewport_size({"width": width, "height": 800})
        for name, url in visited.items():
            page.goto(url)
            if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
                too_wide.append(f"{name} at {width} px")
            # each shown table cell says its column: "Sitzungen: 1", not a bare "1"
            unlabelled += [f"{name}: {cell}" for cell in page.evaluate("""() =>
                [...document.querySelectorAll('.console-main tbody td')]
                .filter(td => td.innerText.trim() && td.closest('table').tHead)
                .filter(td => !getComputedStyle(td, '::before').content.includes(':'))
                .map(td => td.innerText.trim().slice(0, 30))""")]
            blocking.update({f"{name} at {width} px: {v['id']}": [n["target"] for n in v["nodes"]]
                             for v in axe.run(page).response["violations"]
                             if v["impact"] in ("serious", "critical")})
    assert not blocking, blocking
    assert not too_wide, too_wide
    assert not unlabelled, unlabelled[:10]
    (SHOTS / "axe-console.json").write_text(json.dumps(seen, indent=1, sort_keys=True) + "\n")


def test_a_change_after_a_stale_sign_in_is_done_with_one_click_and_keeps_its_role(page,
                                                                                 site):
    """On the demo: an action with a sign-in older than 15 minutes asks for the sign-in
    again, says why, and comes back to the same action; after the administrator becomes
    an operator, the audit still names her role of the time."""
    dana = world.MUSTERSTADT.people[0]
    sign_in_to_the_console(page, site)
    page.goto(site.url + f"/admin/vhs/{world.MUSTERSTADT.slug}/people")
    page.get_by_role("link", name=dana.address).click()
    person = page.url
    site.app.config["CLOCK"] = lambda: time.time() + 16 * 60  # her sign-in is stale now
    try:
        page.get_by_role("button", name="Sperren").click()
        expect(page.get_by_text("älter als 15 Minuten")).to_be_visible()
        page.fill("#password", demo.PASSWORD)
        page.get_by_role("button", name="Anmelden").click()
        page.fill("#code", totp_code(site.app, ADMIN.address, demo.ADMIN_TOTP))
        page.get_by_role("button", name="Bestätigen").click()
        expect(page.get_by_role("status")).to_contain_text("noch nicht ausgeführt: Sperren")
        page.get_by_role("button", name="Jetzt ausführen").click()  # the one click
        assert page.url == person
        expect(page.get_by_text("Der Zugang ist gesperrt")).to_be_visible()
    finally:
        site.app.config.pop("CLOCK")
    as_admin = "Anton Admin, Administration der vhs Musterstadt"
    expect(page.locator("table").last).to_contain_text(as_admin)
    with site.app.app_context():
        db.transaction(roles.grant)(world.MUSTERSTADT.slug, ADMIN.address, Role.OPERATOR,
                                    by="test")
    page.reload()
    expect(page.locator("table").last).to_contain_text(as_admin)  # her role at the time
