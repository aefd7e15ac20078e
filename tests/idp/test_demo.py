"""The demo: seeded data and the demo relying party's whole round trip over HTTP."""

from __future__ import annotations

import re

import pytest

from idp import db
from idp.dev import demo

from ..helpers import Browser, LiveServer

pytestmark = pytest.mark.e2e


def test_demo_relying_party_signs_in_and_out(make_app):
    live = LiveServer(make_app)
    demo.init_app(live.app)
    try:
        with live.app.app_context():
            lines = db.transaction(demo.seed)()
            assert db.transaction(demo.seed)() == lines  # idempotent
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


def test_demo_mailbox_receives_the_activation_mail(make_app):
    from idp import mail

    app = make_app()
    demo.init_app(app)
    mailbox = demo.DemoMailbox()
    try:
        with app.app_context():
            db.transaction(demo.seed)(mailbox)
        client = app.test_client()
        page = client.get("/neuer-zugang").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post("/neuer-zugang", data={"csrf_token": csrf, "tenant": demo.VHS[0],
                                           "email": demo.NEW_ADDRESS})
        with app.app_context():
            assert mail.deliver_due()["delivered"] == 1
        shown = client.get("/demo/mails").get_data(as_text=True)
        assert demo.NEW_ADDRESS in shown and "/zugang/aktivieren?token=" in shown
    finally:
        mailbox.stop()
