"""German by default, English on request (ui_locales or the language link)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import idp

TRANSLATIONS = Path(idp.__file__).parent / "translations"


def test_pages_are_german_by_default(client):
    for accepted in (None, "de-DE,de;q=0.9", "fr-FR, it", "*"):
        headers = {"Accept-Language": accepted} if accepted else {}
        page = client.get("/login", headers=headers).get_data(as_text=True)
        assert '<html lang="de">' in page
        assert "Herzlich willkommen im Kooperationsportal vhsKOOP" in page


def test_a_browser_that_asks_for_english_gets_english(client):
    page = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in page.get_data(as_text=True)
    assert "Welcome to the vhsKOOP cooperation portal" in page.get_data(as_text=True)


def test_language_link_switches_to_english_and_is_remembered(client):
    headers = {"Accept-Language": "de"}
    page = client.get("/login?lang=en", headers=headers).get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Welcome to the vhsKOOP cooperation portal" in page
    assert "Please choose your VHS" in page
    again = client.get("/login", headers=headers).get_data(as_text=True)  # the cookie
    assert "Welcome to the vhsKOOP cooperation portal" in again
    assert 'href="?lang=de"' in again
    back = client.get("/login?lang=de", headers=headers).get_data(as_text=True)
    assert "Herzlich willkommen" in back


def test_ui_locales_come_before_the_switch_and_the_browser(client):
    client.get("/login?lang=de")
    page = client.get("/login?ui_locales=en", headers={"Accept-Language": "de"})
    assert "Welcome to the vhsKOOP cooperation portal" in page.get_data(as_text=True)


def test_ui_locales_of_the_authorization_request_reach_the_login_page(client, runner):
    runner.invoke(args=["clients", "add", "spa", "--public", "--first-party",
                        "--redirect-uri", "http://127.0.0.1:8765/callback"])
    response = client.get("/authorize?response_type=code&client_id=spa&scope=openid"
                          "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback"
                          "&code_challenge=" + "a" * 43 + "&code_challenge_method=S256"
                          "&ui_locales=en-GB%20de")
    login = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Use your staff login." in login


@pytest.mark.once
def test_every_message_is_translated_and_compiled():
    with open(TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalog = read_po(handle)
    with open(TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo", "rb") as handle:
        compiled = read_mo(handle)
    untranslated = [m.id for m in catalog if m.id and (not all(_plural(m.string)) or m.fuzzy)]
    assert untranslated == []
    assert {_plural(m.id): _plural(m.string) for m in catalog if m.id} == {
        _plural(m.id): _plural(m.string) for m in compiled if m.id}


def _plural(value):
    """A message's id or text as a tuple (plural forms come as tuples or lists)."""
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


@pytest.mark.once
def test_the_catalog_knows_every_message_in_the_code(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                    str(TRANSLATIONS / "babel.cfg"), "-k", "lazy_gettext", "-k", "_l",
                    "-o", str(pot), "--no-location", "--omit-header",
                    str(TRANSLATIONS.parent)], check=True, capture_output=True)
    with open(pot, "rb") as handle:
        in_code = {m.id for m in read_po(handle) if m.id}
    with open(TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        in_catalog = {m.id for m in read_po(handle) if m.id}
    assert in_code - in_catalog == set(), "run the pybabel commands of docs/developing.md"
