"""The demo: its world, and the whole story over HTTP: a sign-in at "vhsKOOP", a silent
one at "itm:FEEDBACK", a logout of both (back-channel), Neuer Zugang with its mail."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from idp import backchannel, db, mail
from idp.dev import demo, world
from idp.models import Client, Vhs

from ..helpers import Browser, LiveServer, submit

pytestmark = pytest.mark.e2e


@pytest.fixture
def story(make_app, tmp_path):
    live = LiveServer(make_app)
    told = demo.Demo(live.app, tmp_path / "demo")
    live.serve(told.wsgi())
    with live.app.app_context():
        db.transaction(told.seed)()
    yield live, told
    told.stop()
    live.stop()


def test_the_world_has_its_size_and_every_case(story):
    live, told = story
    with live.app.app_context():
        banner = told.banner()
        db.transaction(told.seed)()  # a second start changes nothing
        assert told.banner() == banner
        assert db.session().scalar(select(func.count()).select_from(Vhs)) == 853
    page = Browser(live.url).get("/demo/").text
    for spec in world.VHS:
        for person in spec.people:
            assert person.address in page
    assert "Sonnige Tage am Donauufer" in "\n".join(banner)


def test_sign_in_at_one_service_signs_in_at_the_other_and_out_of_both(story):
    live, _ = story
    browser = Browser(live.url)
    person = world.MUSTERSTADT.people[0]
    page = browser.authorize("/demo/vhskoop/login", "musterstadt", person.address,
                             demo.PASSWORD, until="/demo/vhskoop/")
    assert page.headers["Location"].endswith("/demo/vhskoop/")  # the callback took the code
    assert "Angemeldet als Dana Demo" in browser.get("/demo/vhskoop/").text
    silent = browser.authorize("/demo/feedback/login", until="/demo/feedback/")  # no password
    assert silent.headers["Location"].endswith("/demo/feedback/")
    assert "Angemeldet als Dana Demo" in browser.get("/demo/feedback/").text
    logout = browser.get("/demo/feedback/logout").headers["Location"]
    assert browser.get(logout).headers["Location"].endswith("/demo/feedback/?signed_out=1")
    with live.app.app_context():
        assert backchannel.deliver_due()["delivered"] == 2  # both services are told
    page = browser.get("/demo/vhskoop/").text
    assert "Back-Channel-Logout" in page and "Angemeldet als" not in page


def test_neuer_zugang_mails_arrive_in_the_demo_inbox(story):
    live, told = story
    client = live.app.test_client()
    submit(client, "/neuer-zugang", world.MUSTERSTADT.people[1].address, tenant="musterstadt")
    with live.app.app_context():
        assert mail.deliver_due()["delivered"] == 1
    shown = Browser(live.url).get("/demo/mails").text
    assert world.MUSTERSTADT.people[1].address in shown and "/zugang/aktivieren?token=" in shown


def test_a_restart_on_another_port_registers_the_new_redirect_uris(story, make_app, tmp_path):
    live, _ = story
    moved = make_app(ISSUER="http://127.0.0.1:59999")
    again = demo.Demo(moved, tmp_path / "again")
    try:
        with moved.app_context():
            db.transaction(again.seed)()
            uris = db.session().scalar(select(Client.redirect_uris).where(
                Client.client_id == "vhskoop"))
        assert uris == ["http://127.0.0.1:59999/demo/vhskoop/callback"]
    finally:
        again.stop()


def test_demo_pages_do_not_exist_outside_the_demo(client):
    assert client.get("/demo/").status_code == 404
