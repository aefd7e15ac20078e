"""The whole demo story in Chromium, and the behaviours people rely on: the VHS combobox
(with and without JavaScript), addresses, the keyboard, languages, the password eye, the
"Abschicken" button of the help page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from idp.dev import demo, world

from .conftest import deliver_everything

pytestmark = pytest.mark.browser


def choose_vhs(page, typed: str, name: str) -> None:
    page.fill("#tenant-search", typed)
    page.get_by_role("option", name=name).click()


def ask_at_vhskoop(page, site, address: str) -> str:
    """Neuer Zugang, started from the vhsKOOP demo service; the activation link mailed."""
    page.goto(site.url + "/demo/vhskoop/")
    page.click("#login")
    page.get_by_role("link", name="Neuer Zugang").click()
    choose_vhs(page, "muster", "vhs Musterstadt")
    page.fill("#email", address)
    page.get_by_role("button", name="Abschicken").click()
    expect(page.get_by_role("heading", name="Bitte sehen Sie in Ihr Postfach")).to_be_visible()
    deliver_everything(site)
    page.goto(site.url + "/demo/mails")
    return page.locator("a[href*='/zugang/aktivieren']").first.get_attribute("href")


def test_the_whole_story(page, site):
    """Neuer Zugang, the mail, activation, vhsKOOP, itm:FEEDBACK without a password, and
    a logout of both."""
    page.goto(ask_at_vhskoop(page, site, world.MUSTERSTADT.people[1].address))
    page.fill("#password", "Morgens Kaffee, mittags Kurse")
    page.fill("#confirm", "Morgens Kaffee, mittags Kurse")
    page.get_by_role("button", name="Passwort speichern").click()
    expect(page.locator("#person")).to_contain_text("Nora Neu")  # back at vhsKOOP, signed in
    page.get_by_role("link", name="Weiter zu itm:FEEDBACK").click()
    expect(page.locator("#person")).to_contain_text("Nora Neu")  # signed in at once: SSO
    page.click("#logout")
    expect(page.get_by_text("Sie sind abgemeldet.")).to_be_visible()
    deliver_everything(site)
    page.goto(site.url + "/demo/vhskoop/")
    expect(page.locator("#ended")).to_contain_text("Back-Channel-Logout")
    expect(page.locator("#login")).to_be_visible()


def test_an_activation_link_opened_in_another_browser_ends_signed_in_at_the_service(
        chromium, page, site):
    """Neuer Zugang asked for from vhsKOOP in the office browser, the mail read on the
    phone: the phone's browser never sent vhsKOOP's state, so it is sent to vhsKOOP's
    initiate-login address, which signs it in there at once."""
    link = ask_at_vhskoop(page, site, world.MUSTERSTADT.people[1].address)
    phone = chromium.new_context(locale="de-DE", viewport={"width": 390, "height": 800})
    try:
        other = phone.new_page()
        other.goto(link)
        other.fill("#password", "Morgens Kaffee, mittags Kurse")
        other.fill("#confirm", "Morgens Kaffee, mittags Kurse")
        other.get_by_role("button", name="Passwort speichern").click()
        expect(other.locator("#person")).to_contain_text("Nora Neu")  # at vhsKOOP
        expect(other.get_by_text("Die Anmeldung hat nicht geklappt")).to_have_count(0)
    finally:
        phone.close()


def test_the_combobox_filters_by_any_part_and_works_by_keyboard(page, site):
    page.goto(site.url + "/login")
    page.fill("#tenant-search", "straub")
    options = page.get_by_role("option")
    expect(options).to_have_count(1)
    expect(options.first).to_have_text("vhs Straubing")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#tenant-search")).to_have_attribute("aria-activedescendant",
                                                             re.compile("option-0"))
    page.keyboard.press("Enter")
    expect(page.locator("#tenant")).to_have_value("straubing")
    expect(page.locator("#tenant-search")).to_have_value("vhs Straubing")
    page.fill("#tenant-search", "kvhs beispiel")  # an alias of "Kreisvolkshochschule"
    expect(page.get_by_role("option")).to_have_text(["Kreisvolkshochschule Beispielkreis"])
    page.fill("#tenant-search", "öhring")
    expect(page.get_by_role("option").first).to_have_text("VHS Öhringen")


@pytest.mark.parametrize(("typed", "name"), [
    ("Muenster", "vhs Münster"), ("Koeln", "vhs Köln"), ("goetting", "vhs Göttingen"),
    ("Munster", "vhs Münster"), ("Münster", "vhs Münster"), ("köln", "vhs Köln")])
def test_umlauts_are_found_however_they_are_typed(page, site, typed, name):
    page.goto(site.url + "/login")
    page.fill("#tenant-search", typed)
    expect(page.get_by_role("option", name=name)).to_be_visible()


def test_no_match_is_said_on_screen_and_a_single_match_is_taken_by_tab(page, site):
    page.goto(site.url + "/login")
    page.fill("#tenant-search", "Xyzzyhausen")
    none = page.locator(".combobox-none")  # on screen; a live region says it to screen readers
    expect(none).to_have_text("Keine VHS gefunden – bitte anders schreiben.")
    expect(none).to_be_visible()
    expect(page.get_by_role("option")).to_have_count(0)
    page.fill("#tenant-search", "straubi")
    page.keyboard.press("Tab")
    expect(page.locator("#tenant")).to_have_value("straubing")
    expect(page.locator("#tenant-search")).to_have_value("vhs Straubing")
    expect(none).to_be_hidden()
    page.fill("#tenant-search", "kvhs beispiel")
    page.keyboard.press("Enter")  # the only match, not yet highlighted
    expect(page.locator("#tenant")).to_have_value("beispielkreis")


def test_typing_into_a_chosen_vhs_starts_a_new_search(page, site):
    page.goto(site.url + "/login")
    choose_vhs(page, "muster", "vhs Musterstadt")
    page.click("#email")
    page.click("#tenant-search")  # the chosen name is there, the caret somewhere in it
    page.keyboard.type("Straub")
    expect(page.locator("#tenant-search")).to_have_value("Straub")
    expect(page.get_by_role("option")).to_have_text(["vhs Straubing"])


def test_the_plain_select_works_without_javascript(chromium, site):
    context = chromium.new_context(java_script_enabled=False, locale="de-DE")
    page = context.new_page()
    page.goto(site.url + "/login")
    names = page.locator("#tenant option:not([data-alias])").all_inner_texts()
    assert len(names) == 855 and names[0] == "Bitte VHS auswählen"
    order = ["Aachen (vhs)", "Arnstadt (Kreisvolkshochschule)", "Oberhausen (vhs)",
             "Offenbach (vhs)", "Öhringen (VHS)", "Straubing (vhs)", "Zwickau (vhs)"]
    assert sorted(order, key=names.index) == order  # German order, by the place
    page.focus("#tenant")
    page.keyboard.type("Straub")  # the browser's own type-ahead finds the town
    expect(page.locator("#tenant")).to_have_value("straubing")
    oehringen = page.locator("#tenant option", has_text="Öhringen").first.get_attribute("value")
    page.wait_for_timeout(1500)  # the type-ahead forgets what was typed before
    page.focus("#tenant")
    page.keyboard.type("Oehr")  # the umlaut written out finds it too
    expect(page.locator("#tenant")).to_have_value(oehringen)
    page.select_option("#tenant", "musterstadt")
    page.fill("#email", world.MUSTERSTADT.people[0].address)
    page.fill("#password", demo.PASSWORD)
    page.click("button.primary")
    expect(page.get_by_role("heading", name="Sie sind angemeldet")).to_be_visible()
    context.close()


@pytest.mark.parametrize(("address", "words"), [
    ("kein-at-zeichen", "genau ein @-Zeichen"),
    ("name@", "fehlt die Domain"),
    ("a b@c.de", "Leerzeichen"),
    ("neu@vhs-musterstadt", "Domain mit Punkt"),
])
def test_a_malformed_address_is_named_and_the_summary_takes_the_focus(page, site, address,
                                                                      words):
    page.goto(site.url + "/neuer-zugang")
    choose_vhs(page, "muster", "vhs Musterstadt")
    page.fill("#email", address)
    page.get_by_role("button", name="Abschicken").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text(words)
    expect(summary).to_be_focused()
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email")).to_have_attribute("aria-describedby", "email-error")


def test_a_keyboard_only_login(page, site):
    page.goto(site.url + "/login")
    page.keyboard.press("Tab")  # the language switch
    page.keyboard.press("Tab")
    expect(page.locator("#tenant-search")).to_be_focused()
    page.keyboard.type("musterst")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("#email")).to_be_focused()
    page.keyboard.type(world.MUSTERSTADT.people[0].address)
    page.keyboard.press("Tab")
    page.keyboard.type(demo.PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sie sind angemeldet")).to_be_visible()


def test_english_by_the_switch_and_by_the_browser(chromium, site):
    context = chromium.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(site.url + "/login")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Welcome to the vhsKOOP cooperation portal")
    page.get_by_role("link", name="Deutsch").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Herzlich willkommen im Kooperationsportal vhsKOOP")
    page.goto(site.url + "/neuer-zugang")  # the switch is remembered
    expect(page.get_by_role("heading", level=1)).to_have_text("Neuer Zugang")
    page.goto(site.url + "/demo/vhskoop/?lang=en")  # the demo services speak English too
    expect(page.locator("#login")).to_have_text("Sign in with your staff login")
    context.close()


def test_the_password_eye(page, site):
    page.goto(site.url + "/login")
    page.fill("#password", "geheim")
    eye = page.get_by_role("button", name="Passwort anzeigen")
    eye.click()
    expect(page.locator("#password")).to_have_attribute("type", "text")
    expect(page.get_by_role("button", name="Passwort verbergen")).to_have_attribute(
        "aria-pressed", "true")
    page.get_by_role("button", name="Passwort verbergen").click()
    expect(page.locator("#password")).to_have_attribute("type", "password")


def test_abschicken_is_usable_once_both_are_given_and_explains_before(page, site):
    page.goto(site.url + "/neuer-zugang")
    button = page.get_by_role("button", name="Abschicken")
    expect(button).to_have_attribute("aria-disabled", "true")
    page.focus("#email")
    page.keyboard.press("Enter")  # too early: it says what is missing, and stays
    expect(page.locator(".missing")).to_contain_text("Bitte wählen Sie Ihre VHS aus.")
    expect(page.locator(".missing")).to_contain_text("Bitte geben Sie Ihre E-Mail-Adresse ein.")
    expect(page.locator("#tenant-search")).to_be_focused()
    assert page.url.endswith("/neuer-zugang")
    choose_vhs(page, "muster", "vhs Musterstadt")
    page.fill("#email", "nora@vhs-musterstadt.de")
    expect(button).to_have_attribute("aria-disabled", "false")


def test_the_choice_is_remembered_after_logging_out(page, site):
    page.goto(site.url + "/login")
    choose_vhs(page, "portal", "vhs Portalstadt")
    page.fill("#email", "niemand@vhs-portalstadt.de")
    page.fill("#password", "falsches Passwort hier")
    page.click("button.primary")
    page.goto(site.url + "/login")
    expect(page.locator("#tenant-search")).to_have_value("vhs Portalstadt")
