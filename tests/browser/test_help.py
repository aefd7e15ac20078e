"""The help loop in Chromium, on the demo, as the documentation tells it: Tom Tippfehler's
Neuer Zugang fails, he asks his VHS for help from the mail, the administrator reads the
typo under "Hilfe-Anfragen" and fixes it in the demo's program, and the activation mail
comes by itself (the demo's worker re-checks every few seconds). Every page of the loop
passes axe."""

from __future__ import annotations

import time

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from idp import worker
from idp.dev import world

from .conftest import deliver_everything
from .test_console import NEW_PASSWORD, TOM, ask_for_access, sign_in_to_the_console

pytestmark = pytest.mark.browser


def no_serious_violation(page, name: str) -> None:
    found = [(v["id"], [n["target"] for n in v["nodes"]])
             for v in Axe().run(page).response["violations"]
             if v["impact"] in ("serious", "critical")]
    assert found == [], (name, found)


def test_tom_asks_for_help_and_the_fixed_program_sends_his_mail_by_itself(chromium, page,
                                                                          site):
    tom = chromium.new_context(locale="de-DE").new_page()
    tom.set_default_timeout(10_000)
    ask_for_access(tom, site, TOM.address)  # the program has a typo: no activation mail
    deliver_everything(site)
    tom.goto(site.url + "/demo/mails")
    tom.goto(tom.locator("a[href*='/hilfe/anfrage']").first.get_attribute("href"))
    expect(tom.get_by_role("heading", name="Meine VHS um Hilfe bitten")).to_be_visible()
    expect(tom.get_by_text(TOM.address)).to_be_visible()
    no_serious_violation(tom, "help request")
    tom.fill("#message", "Ich leite seit September den Englischkurs.")
    tom.get_by_role("button", name="Anfrage senden").click()
    expect(tom.get_by_role("heading", name="Ihre Anfrage ist angekommen")).to_be_visible()
    no_serious_violation(tom, "help sent")

    sign_in_to_the_console(page, site)
    page.get_by_role("link", name="Hilfe-Anfragen").click()
    request = page.locator("section.card-section").filter(has_text=TOM.address)
    expect(request).to_contain_text("die Adresse steht nicht in der Benutzerverwaltung")
    expect(request).to_contain_text("Ich leite seit September den Englischkurs.")
    no_serious_violation(page, "console help requests")

    page.goto(site.url + f"/demo/programs/{world.MUSTERSTADT.slug}")  # the VHS's program
    page.fill("#email-6", TOM.address)
    page.locator("form.program-row").nth(5).get_by_role("button", name="Speichern").click()
    fixed_at = time.monotonic()
    stop = worker.start_in_background(site.app, interval=1.0)  # as the demo runs it
    try:
        activation = tom.locator("a[href*='/zugang/aktivieren']")
        while activation.count() == 0 and time.monotonic() - fixed_at < 60:
            time.sleep(1)
            tom.goto(site.url + "/demo/mails")
    finally:
        stop.set()
    assert activation.count() == 1, "no activation mail within 60 seconds"

    page.goto(site.url + f"/admin/vhs/{world.MUSTERSTADT.slug}/hilfe")
    expect(page.locator("section.card-section").filter(has_text=TOM.address)).to_contain_text(
        "gelöst")
    tom.goto(activation.first.get_attribute("href"))
    tom.fill("#password", NEW_PASSWORD)
    tom.fill("#confirm", NEW_PASSWORD)
    tom.get_by_role("button", name="Passwort speichern").click()
    expect(tom.get_by_role("heading", name="Ihr Zugang ist aktiv")).to_be_visible()
    tom.context.close()
