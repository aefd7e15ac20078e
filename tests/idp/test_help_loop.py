"""The help loop on the demo, as the documentation tells it: Tom Tippfehler's Neuer Zugang fails,
his mail offers "Meine VHS um Hilfe bitten", the administrator reads the typo in
"Hilfe-Anfragen", fixes it on the demo's program page, and the activation mail arrives
without Tom doing anything; Karl's Kursmanagement-APP request lands in ITEM's queue and
one click on "verknüpfen" sends his."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from idp import db, mail, roles, worker
from idp.dev import demo, world
from idp.models import AuditEvent, HelpRequest, Role

from ..helpers import form_field, post_login, second_step, submit, totp_code
from .test_demo import TOM, story  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e

KARL = world.BEISPIELKREIS.people[0].address  # a KMA user ITEM has not linked


ACTIVATION = "Ihr Zugang zum Kooperationsportal vhsKOOP"  # the subject of the activation mail


def received(told, to: str, subject: str | None = None) -> list:
    """The mails the demo VHS's mail server received for ``to`` (with ``subject``)."""
    return [m for m in told.mailbox.messages
            if m["To"] == to and subject in (None, str(m["Subject"]))]


def link_in(message) -> str:
    """The path of the help link in a received mail's text."""
    url = re.search(r"https?://\S+/hilfe/anfrage\?t=\S+",
                    message.get_body(("plain",)).get_content())
    parts = urlsplit(url.group(0))
    return f"{parts.path}?{parts.query}"


def ask_for_help(client, live, told, address: str, tenant: str) -> None:
    """Neuer Zugang fails; the mail's link opens the request (the person sends it)."""
    submit(client, "/neuer-zugang", address, tenant=tenant)
    with live.app.app_context():
        assert mail.deliver_due()["delivered"] >= 1
    [refused] = received(told, address)
    path = link_in(refused)
    page = client.get(path)
    assert page.status_code == 200 and address in html.unescape(page.get_data(as_text=True))
    sent = client.post("/hilfe/anfrage", data={
        "csrf_token": form_field(page.get_data(as_text=True), "csrf_token"),
        "t": form_field(page.get_data(as_text=True), "t"), "message": "Bitte helfen!"})
    assert "Ihre Anfrage ist angekommen" in sent.get_data(as_text=True)


def administrator(live, operator: bool = False):
    """The demo's administrator, signed in to the console (with the banner's TOTP)."""
    if operator:
        with live.app.app_context():
            db.transaction(roles.grant)("musterstadt", world.ADMIN.address, Role.OPERATOR,
                                        "test")
    client = live.app.test_client()
    post_login(client, "musterstadt", world.ADMIN.address, demo.PASSWORD)
    assert second_step(client, totp_code(live.app, world.ADMIN.address,
                                         demo.ADMIN_TOTP)).status_code == 303
    return client


def state_of(live, address: str) -> str:
    with live.app.app_context():
        return db.session().scalar(select(HelpRequest.state).where(
            HelpRequest.address == address))


def test_tom_asks_for_help_and_a_fix_in_the_program_sends_his_activation_mail(story):  # noqa: F811
    live, told = story
    tom = live.app.test_client()
    ask_for_help(tom, live, told, TOM, "musterstadt")
    console = administrator(live)
    page = html.unescape(console.get("/admin/vhs/musterstadt/hilfe").get_data(as_text=True))
    assert TOM in page and "Bitte helfen!" in page
    assert "die Adresse steht nicht in der Benutzerverwaltung" in page  # the diagnosis
    program = console.get("/demo/programs/musterstadt").get_data(as_text=True)
    tom_row = next(p for p in world.MUSTERSTADT.people if p.typed == TOM)
    fixed = console.post(f"/demo/programs/musterstadt/{tom_row.id}", data={
        "csrf_token": form_field(program, "csrf_token"), "email": TOM, "aktiv": "J",
        "internet_anzeigen": "J"})
    assert fixed.status_code == 303
    started = time.monotonic()
    stop = worker.start_in_background(live.app, interval=1.0)  # what the demo runs
    try:
        while not received(told, TOM, ACTIVATION) \
                and time.monotonic() - started < 60:
            time.sleep(0.2)
    finally:
        stop.set()
    waited = time.monotonic() - started
    assert received(told, TOM, ACTIVATION), waited
    assert waited < 60
    [activation] = received(told, TOM, ACTIVATION)
    assert "/zugang/aktivieren?token=" in activation.get_body(("plain",)).get_content()
    assert state_of(live, TOM) == "solved"
    solved = html.unescape(console.get("/admin/vhs/musterstadt/hilfe").get_data(as_text=True))
    assert "gelöst" in solved and "die regelmäßige Prüfung des Anmeldedienstes" in solved


def test_karls_request_lands_in_items_queue_and_linking_sends_his_activation_mail(story):  # noqa: F811
    live, told = story
    ask_for_help(live.app.test_client(), live, told, KARL, "beispielkreis")
    with live.app.app_context():
        asked = db.session().scalar(select(HelpRequest).where(HelpRequest.address == KARL))
        assert asked.needs_item and asked.state == "open"
    console = administrator(live)
    assert console.get("/admin/hilfe").status_code == 403  # a VHS's administrator: not ITEM's
    console = administrator(live, operator=True)
    queue = html.unescape(console.get("/admin/hilfe").get_data(as_text=True))
    assert KARL in queue and "Kreisvolkshochschule Beispielkreis" in queue
    linked = console.post(f"/admin/hilfe/{asked.id}/verknuepfen", data={
        "csrf_token": form_field(queue, "csrf_token")})
    assert linked.status_code == 303
    assert state_of(live, KARL) == "solved"
    with live.app.app_context():
        assert mail.deliver_due()["delivered"] == 1
        act = db.session().scalar(select(AuditEvent).where(
            AuditEvent.kind == "admin", AuditEvent.detail == "kma link"))
        assert act.vhs == "beispielkreis" and act.actor.startswith("console:musterstadt/")
    assert received(told, KARL, ACTIVATION)
    after = html.unescape(console.get("/admin/hilfe").get_data(as_text=True))
    assert "Keine Anfrage wartet auf ITEM." in after


def test_a_recheck_while_the_portal_fails_keeps_the_request_open(story):  # noqa: F811
    live, told = story
    lukas = world.PORTALSTADT.people[1].address  # eligible, no itm:PORTAL login
    client = live.app.test_client()
    assert submit(client, "/hilfe/bitten", lukas, tenant="portalstadt").status_code == 200
    with live.app.app_context():
        assert mail.deliver_due()["delivered"] == 1
    path = link_in(received(told, lukas)[0])
    page = client.get(path).get_data(as_text=True)
    client.post("/hilfe/anfrage", data={"csrf_token": form_field(page, "csrf_token"),
                                        "t": form_field(page, "t"), "message": ""})
    told.portal.mode = "error"  # the portal must say whether it owns the address: it cannot
    console = administrator(live, operator=True)
    with live.app.app_context():
        asked = db.session().scalar(select(HelpRequest).where(HelpRequest.address == lukas))
    listing = "/admin/vhs/portalstadt/hilfe"
    token = form_field(console.get(listing).get_data(as_text=True), "csrf_token")
    answer = console.post(f"{listing}/{asked.id}/pruefen", data={"csrf_token": token},
                          follow_redirects=True)
    assert answer.status_code == 200 and state_of(live, lukas) == "open"
    assert "sagt weiterhin „nicht erreichbar“" in html.unescape(answer.get_data(as_text=True))
    told.portal.mode = "normal"
    token = form_field(console.get(listing).get_data(as_text=True), "csrf_token")
    console.post(f"{listing}/{asked.id}/pruefen", data={"csrf_token": token})
    assert state_of(live, lukas) == "solved"
