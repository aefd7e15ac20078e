"""The demo: its world, and the whole story over HTTP: a sign-in at "vhsKOOP", a silent
one at "itm:FEEDBACK", a logout of both (back-channel), Neuer Zugang with its mail."""

from __future__ import annotations

import html
import re
import time

import pytest
from sqlalchemy import func, select

from idp import backchannel, db, mail, roles, worker
from idp.dev import cutover, demo, world
from idp.models import Account, Client, Role, Vhs
from idp.passwords import passwords

from ..helpers import Browser, LiveServer, form_field, post_login, second_step, submit, totp_code

pytestmark = pytest.mark.e2e

TOM = "tom.tippfehler@vhs-musterstadt.de"


@pytest.fixture
def story(make_app, tmp_path):
    live = LiveServer(make_app, **demo.SETTINGS)
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
        assert db.session().scalar(select(func.count()).select_from(Vhs)) == 854
    page = Browser(live.url).get("/demo/").text
    for spec in world.VHS:
        for person in spec.people:
            assert person.address in page
    assert "Sonnige Tage am Donauufer" in "\n".join(banner)
    assert demo.ADMIN_TOTP in "\n".join(banner)  # the console's second factor
    assert "bin/vhskoop-idp ..." in banner[-1]  # a command that runs as printed


def test_the_banner_prints_the_administrators_password_after_the_demo_one_changed(story):
    live, told = story
    with live.app.app_context():
        person = db.session().scalar(select(Account).where(
            Account.address == world.MUSTERSTADT.people[0].address))
        person.password_hash = passwords().hash("ein ganz anderes Passwort")
        db.session().commit()
        banner = told.banner()
    [sign_in] = [line for line in banner if line.startswith("  sign in:")]
    [console] = [line for line in banner if line.startswith("  the console:")]
    assert "changed since" in sign_in
    assert '"Sonnige Tage am Donauufer"' in console


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
    assert re.search(r"\d\d\.\d\d\.\d{4}, \d\d:\d\d Uhr", shown)  # the pages' dates
    assert "+0000" not in shown and " GMT" not in shown


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


DEMO_CASES = {  # what the console's diagnosis says of each person of the demo's programs
    "demo@vhs-musterstadt.de": (True, "so gespeichert, wie eingegeben"),
    "neu@vhs-musterstadt.de": (True, "so gespeichert, wie eingegeben"),
    "freigabe@vhs-musterstadt.de": (False, "„Im Internet anzeigen“ ist nicht gesetzt"),
    "leerzeichen@vhs-musterstadt.de": (True, "ein geschütztes Leerzeichen (U+00A0) an Stelle "
                                             "31 der gespeicherten Adresse"),
    "inaktiv@vhs-musterstadt.de": (False, "der Benutzer ist im Verwaltungsprogramm nicht "
                                          "aktiv"),
    "tom.tippfehler@vhs-musterstadt.de": (False, "die Adresse steht nicht in der "
                                                 "Benutzerverwaltung"),
    "admin@vhs-musterstadt.de": (True, "so gespeichert, wie eingegeben"),
    "weggang@vhs-musterstadt.de": (True, "so gespeichert, wie eingegeben"),
    "kma@kvhs-beispielkreis.de": (False, "die Verknüpfung in der Kursmanagement-APP fehlt"),
    "verknuepft@kvhs-beispielkreis.de": (True, "Kursmanagement-APP ist da"),
    "portal@vhs-portalstadt.de": (True, "Mitarbeitenden-Login für die Adresse"),
    "lokal@vhs-portalstadt.de": (True, "das itm:PORTAL hat keinen Login für die Adresse"),
}


def test_the_console_diagnoses_every_person_of_the_demo(story):
    live, _ = story
    with live.app.app_context():  # the demo's administrator; ITEM's too here
        db.transaction(roles.grant)("musterstadt", world.ADMIN.address, Role.OPERATOR, "test")
    client = live.app.test_client()
    assert post_login(client, "musterstadt", world.ADMIN.address,
                      demo.PASSWORD).headers["Location"] == "/login/zweiter-schritt"
    code = totp_code(live.app, world.ADMIN.address, demo.ADMIN_TOTP)  # the banner's secret
    assert second_step(client, code).status_code == 303
    people = {p.address: spec.slug for spec in world.VHS for p in spec.people}
    assert set(people) == set(DEMO_CASES)
    for address, slug in people.items():
        page = f"/admin/vhs/{slug}/diagnose"
        token = form_field(client.get(page).get_data(as_text=True), "csrf_token")
        text = html.unescape(client.post(page, data={"csrf_token": token, "address": address}
                                         ).get_data(as_text=True))
        access, expected = DEMO_CASES[address]
        assert expected in text, address
        assert ("Die Person kann einen Zugang bekommen" in text) is access, address


def test_a_restart_keeps_what_was_fixed_in_a_demo_program_and_reset_starts_over(story):
    live, told = story
    tom = next(p for p in world.MUSTERSTADT.people if p.typed == TOM)
    url = told.program_url("musterstadt")
    world.change_program(url, tom.id, TOM, active=True, released=True)  # the typo fixed
    with live.app.app_context():
        db.transaction(told.seed)()  # what a restart does
    assert {row["email"] for row in world.read_program(url)} >= {TOM}
    demo.reset(live.app, told.folder, database=False)  # the test's database stays
    assert not (told.folder / "programs").exists()
    with live.app.app_context():
        db.transaction(told.seed)()
    assert TOM not in {row["email"] for row in world.read_program(url)}  # the typo again


def test_the_demo_page_says_what_each_account_is_now(story):
    live, _ = story
    nora = world.MUSTERSTADT.people[1]
    before = html.unescape(Browser(live.url).get("/demo/").text)
    assert "Anton Admin (admin@vhs-musterstadt.de) ist Administrator" in before
    assert f"{nora.address}</code> – kann einen Zugang anfordern (Neuer Zugang)<br>" not in before
    live.cli("accounts", "add", "--vhs", "musterstadt", "--email", nora.address,
             "--password-stdin", input="ein langes Passwort für Nora\n")
    after = html.unescape(Browser(live.url).get("/demo/").text)
    assert (f"{nora.address}</code> – kann einen Zugang anfordern (Neuer Zugang)<br>"
            "<strong>Jetzt:</strong> aktiv") in after
    assert after.count(demo.PASSWORD) == 1  # the password, once


@pytest.mark.parametrize("local", ["bcrypt", "ohne-hash"])
def test_vhs_altstadts_imported_people_sign_in_with_their_old_password(story, local):
    """One with an imported bcrypt hash, one without a hash (the old login confirms it)."""
    live, _ = story
    browser = Browser(live.url)
    assert cutover.address(local) in browser.get("/demo/").text
    page = browser.authorize("/demo/vhskoop/login", "altstadt", cutover.address(local),
                             cutover.PASSWORD, until="/demo/vhskoop/")
    assert page.headers["Location"].endswith("/demo/vhskoop/")
    assert f"Angemeldet als {local.title()} Altstadt" in browser.get("/demo/vhskoop/").text
    with live.app.app_context():
        account = db.session().scalar(select(Account).where(
            Account.address == cutover.address(local)))
        assert account.password_hash.startswith("$argon2id$") and account.legacy_hash is None
    assert "Passwort als Argon2id gespeichert" in browser.get("/demo/").text


def test_a_leaver_is_signed_out_of_both_services_within_seconds_and_comes_back(story):
    """The README's leaver story: Lea Weggang signs in at both demo services; unticking
    "aktiv" in the demo's program ends both sessions by back-channel within 30 s (the
    demo's worker asks the program every few seconds); ticked again, she signs in."""
    live, _ = story
    lea, browser = world.LEAVER, Browser(live.url)
    browser.authorize("/demo/vhskoop/login", "musterstadt", lea.address, demo.PASSWORD,
                      until="/demo/vhskoop/")
    browser.authorize("/demo/feedback/login", until="/demo/feedback/")
    assert "Angemeldet als Lea Weggang" in browser.get("/demo/feedback/").text

    def tick(active: bool) -> None:  # the form's checkboxes: sent when ticked
        page = browser.get("/demo/programs/musterstadt").text
        assert browser.post(f"/demo/programs/musterstadt/{lea.id}", {
            "csrf_token": form_field(page, "csrf_token"), "email": lea.address,
            "internet_anzeigen": "J", **({"aktiv": "J"} if active else {})}).status_code == 303

    tick(False)
    started = time.monotonic()
    stop = worker.start_in_background(live.app, interval=1.0)  # as the demo runs it
    try:
        while time.monotonic() - started < 30 and not all(
                "Back-Channel-Logout" in browser.get(f"/demo/{service}/").text
                for service in ("vhskoop", "feedback")):
            time.sleep(0.5)
        waited = time.monotonic() - started
        assert waited < 30, "no back-channel logout within 30 s"
        while time.monotonic() - started < 35 and "Zugang gesperrt" not in browser.get(
                "/demo/vhskoop/").text:  # its Shared Signals stream: the words and the person
            time.sleep(0.3)
        told = html.unescape(browser.get("/demo/vhskoop/").text)
        assert re.search(r"Zugang gesperrt</td><td>Lea Weggang \(weggang@", told), told[-800:]
        assert "Sitzung beendet" in told
        with live.app.app_context():
            left = db.session().scalar(select(Account).where(Account.address == lea.address))
            assert left.leaving_since is not None
        tick(True)
        with live.app.app_context():  # the next pass asks about her again
            while db.session().scalar(select(Account.leaving_since).where(
                    Account.address == lea.address)) is not None:
                assert time.monotonic() - started < 60, "still leaving"
                db.session().rollback()
                time.sleep(0.3)
        answer = browser.authorize("/demo/vhskoop/login", "musterstadt", lea.address,
                                   demo.PASSWORD, until="/demo/vhskoop/")
        assert answer.headers.get("Location", "").endswith("/demo/vhskoop/"), answer.text[-500:]
        assert "Angemeldet als Lea Weggang" in browser.get("/demo/vhskoop/").text
    finally:
        stop.set()
