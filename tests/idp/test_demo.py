"""The demo: seeded data and the demo relying party's whole round trip over HTTP."""

from __future__ import annotations

import re

import pytest

from idp import demo

from ..conftest import LiveServer
from ..helpers import Browser

pytestmark = pytest.mark.e2e


def test_demo_relying_party_signs_in_and_out(make_app):
    live = LiveServer(make_app, DEMO=True)
    try:
        with live.app.app_context():
            lines = demo.seed()
            assert demo.seed() == lines  # idempotent
        browser = Browser(live.url)
        page = browser.authorize("/demo/start", demo.VHS[0], demo.ADDRESS, demo.PASSWORD)
        assert page.status_code == 200, page.text
        assert "Angemeldet." in page.text
        assert "\"vhs\": \"musterstadt\"" in page.text
        assert "demo@vhs-musterstadt.de" in page.text
        logout = re.search(r'href="([^"]*/end_session\?[^"]*)"', page.text).group(1)
        logout = logout.replace("&amp;", "&")
        assert browser.get(logout).headers["Location"] == live.url + "/demo/"
    finally:
        live.stop()


def test_demo_pages_do_not_exist_outside_the_demo(client):
    assert client.get("/demo/").status_code == 404
