"""The VHS console (/admin) through its HTTP interface: who may see what, every action
with the audit event it writes, and the diagnosis for each case of the program world."""

from __future__ import annotations

import html
import time

import pytest
from sqlalchemy import func, select

from idp import acts, db, eligibility, mail, tenants
from idp.cli import main
from idp.models import Account, AuditEvent, Client, OutboxMail, SsoSession, Status, Vhs

from ..databases import restore, snapshot
from ..helpers import (
    PASSWORD,
    deliver,
    form_field,
    give_totp,
    post_login,
    recovery_code,
    run,
    second_step,
    submit,
    totp_code,
    write_config,
)

ANNA = "anna.muster@vhs-straubing.de"  # administrator of straubing
BERND = "bernd@vhs-straubing.de"  # an account at straubing the program does not release
DORA = "dora@vhs-straubing.de"  # an ordinary account at straubing
PAUL = "paul@vhs-passau.de"  # administrator of passau
OPS = "ops@itm.example"  # an ITEM operator
SENDER = "info@vhs-straubing.de"


@pytest.fixture
def world(app, runner, kufer_world, smtp, tmp_path):
    """Straubing on the KuferSQL world with its mail server; Passau; ITEM; the roles.
    Built through the command line once per worker, then copied for each test, with this
    test's program database and mail server put in."""
    if BUILT:
        restore(app, BUILT["rows"])
        with app.app_context():
            straubing = tenants.find("straubing")
            eligibility.configure(straubing, "kufersql", {"url": kufer_world["url"],
                                                          "mandant": "1"})
            mail.set_settings(straubing, mail.MailSettings(
                host="127.0.0.1", port=smtp.port, security="none", sender=SENDER))
            db.session().commit()
        KEYS.update(BUILT["keys"])
        return smtp
    build_world(app, runner, kufer_world, smtp, tmp_path)
    BUILT.update(rows=snapshot(app), keys=dict(KEYS))
    return smtp


BUILT: dict = {}  # the world as first built in this worker: its rows and the apps' secrets


def build_world(app, runner, kufer_world, smtp, tmp_path) -> None:
    """The world, built as an operator would, through the command line."""
    config = write_config(tmp_path, url=kufer_world["url"], mandant="1")
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded",
        "--adapter", "kufersql", "--adapter-config", config)
    run(runner, "vhs", "set-mail", "straubing", "--host", "127.0.0.1", "--port", str(smtp.port),
        "--security", "none", "--sender", SENDER)
    run(runner, "vhs", "add", "passau", "--name", "vhs Passau", "--onboarded")
    run(runner, "vhs", "add", "item", "--name", "ITEM", "--onboarded")
    for slug, address in (("straubing", ANNA), ("straubing", BERND), ("straubing", DORA),
                          ("passau", PAUL), ("item", OPS)):
        run(runner, "accounts", "add", "--vhs", slug, "--email", address, "--password-stdin",
            input=PASSWORD + "\n")
    run(runner, "admins", "grant", "--vhs", "straubing", "--email", ANNA)
    run(runner, "admins", "grant", "--vhs", "passau", "--email", PAUL)
    run(runner, "admins", "grant", "--vhs", "item", "--email", OPS, "--operator")
    for holder in (ANNA, PAUL, OPS):  # every console role needs a second factor
        KEYS[holder] = give_totp(app, holder)


KEYS: dict[str, str] = {}  # the role holders' TOTP secrets (the apps' side)


def log_in(app, client, email=ANNA, tenant="straubing", **login):
    """Sign in with the password and, for a role holder, the app's code (a recovery code
    once this half minute's codes are spent); the last answer."""
    response = post_login(client, tenant=tenant, email=email, **login)
    if response.headers.get("Location") != "/login/zweiter-schritt":
        return response
    try:
        return second_step(client, totp_code(app, email, KEYS[email]))
    except AssertionError:  # spent: any number of sign-ins within one test
        return second_step(client, recovery_code(app, email), method="recovery")


def signed_in(app, email=ANNA, tenant="straubing", **login):
    """A browser (test client) signed in as ``email``."""
    client = app.test_client()
    assert log_in(app, client, email, tenant, **login).status_code == 303
    return client


def act(client, page: str, action: str, **data):
    """Press a console button: the CSRF token from ``page``, then POST ``action``."""
    token = form_field(client.get(page).get_data(as_text=True), "csrf_token")
    return client.post(action, data={"csrf_token": token, "back": page, **data})


def account(app, address: str) -> Account:
    with app.app_context():
        return db.session().scalar(select(Account).where(Account.address == address))


def console_events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session().scalars(select(AuditEvent).where(
            AuditEvent.kind == "admin", AuditEvent.detail == action)))


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_anonymous_visitors_go_to_the_login_and_come_back(app, world):
    client = app.test_client()
    response = client.get("/admin/vhs/straubing/people")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=%2Fadmin%2Fvhs%2Fstraubing%2Fpeople"
    assert client.post("/admin/vhs/straubing/kma/link", data={"address": ANNA}
                       ).status_code == 303
    back = log_in(app, client, email=ANNA, next="/admin/vhs/straubing/people")
    assert back.headers["Location"] == "/admin/vhs/straubing/people"
    assert "Personen" in client.get(back.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("url", ["/admin/", "/admin/vhs/straubing/people",
                                 "/admin/vhs/straubing/diagnose", "/admin/clients",
                                 "/admin/dashboard"])
def test_an_ordinary_account_gets_403(app, world, url):
    answer = signed_in(app, DORA).get(url)
    assert answer.status_code == 403
    text = page_text(answer)  # who may use it and whom to ask, not a protocol error
    assert "Kein Zugang zu dieser Seite der Verwaltung" in text and DORA in text
    assert "bitten Sie die Administration Ihrer VHS" in text and "Fehlercode" not in text


def test_a_vhs_administrator_reaches_only_their_own_vhs(app, world):
    client = signed_in(app)
    assert client.get("/admin/").headers["Location"] == "/admin/vhs/straubing/people"
    other_vhs = client.get("/admin/vhs/passau/people")
    assert other_vhs.status_code == 403
    assert "Sie verwalten vhs Straubing." in page_text(other_vhs)
    assert client.get("/admin/vhs/nowhere/people").status_code == 404
    paul = account(app, PAUL)
    assert client.get(f"/admin/vhs/straubing/people/{paul.id}").status_code == 404
    assert client.get(f"/admin/vhs/passau/people/{paul.id}").status_code == 403
    assert client.get("/admin/vhs/straubing/people/x").status_code == 404
    for url in ("/admin/clients", "/admin/keys", "/admin/outbox", "/admin/audit",
                "/admin/dashboard", "/admin/vhs/straubing/settings"):
        assert client.get(url).status_code == 403, url
    page = "/admin/vhs/straubing/people"
    forged = act(client, page, f"/admin/vhs/straubing/people/{paul.id}/disable")
    assert forged.status_code == 404
    other = act(client, page, f"/admin/vhs/passau/people/{paul.id}/disable")
    assert other.status_code == 403
    assert act(client, page, "/admin/keys/rotate").status_code == 403
    assert account(app, PAUL).status == Status.ACTIVE
    assert console_events(app, "accounts disable") == []


def test_changes_need_a_csrf_token_and_a_fresh_login(app, world):
    client = signed_in(app)
    bernd = account(app, BERND)
    action = f"/admin/vhs/straubing/people/{bernd.id}/disable"
    assert client.post(action, data={}).status_code == 400
    page = f"/admin/vhs/straubing/people/{bernd.id}"
    app.config["CLOCK"] = lambda: time.time() + 16 * 60
    assert "Erneut anmelden" in client.get(page).get_data(as_text=True)
    stale = act(client, page, action, confirmed="1", action_label="Sperren")  # the button
    assert stale.status_code == 303
    assert stale.headers["Location"] == "/login?next=%2Fadmin%2Ffortsetzen"
    login = page_text(client.get(stale.headers["Location"]))
    assert f'value="{ANNA}"' in login  # the console's login again: the same person
    assert "älter als 15 Minuten" in login  # and why
    assert account(app, BERND).status == Status.ACTIVE
    back = log_in(app, client, email=ANNA, next="/admin/fortsetzen")
    assert back.headers["Location"] == "/admin/fortsetzen"
    resume = client.get("/admin/fortsetzen")
    words = page_text(resume)
    assert "noch nicht ausgeführt" in words and "Sperren" in words
    assert account(app, BERND).status == Status.ACTIVE  # nothing done without the click
    html_page = resume.get_data(as_text=True)
    done = client.post(action, data={
        "csrf_token": form_field(html_page, "csrf_token"), "confirmed": "1",
        "back": form_field(html_page, "back"), "action_label": "Sperren"})
    assert done.status_code == 303  # one click
    assert account(app, BERND).status == Status.DISABLED
    assert client.get("/admin/fortsetzen").headers["Location"] == "/admin/"  # only once
    assert client.get(action).headers["Location"] == page  # an action opened by address


def test_a_diagnosis_is_read_only_and_needs_no_fresh_login(app, world):
    client = signed_in(app)
    app.config["CLOCK"] = lambda: time.time() + 16 * 60
    answer = act(client, "/admin/vhs/straubing/diagnose", "/admin/vhs/straubing/diagnose",
                 address=BERND)
    assert answer.status_code == 200 and "Im Internet anzeigen" in page_text(answer)


def test_disable_ends_the_sessions_and_enable_lets_the_person_in_again(app, world):
    client = signed_in(app)
    dora_browser = signed_in(app, DORA)
    assert dora_browser.get("/account").status_code == 200
    dora = account(app, DORA)
    page = f"/admin/vhs/straubing/people/{dora.id}"
    asked = act(client, page, f"{page}/disable")  # one click only asks
    assert asked.status_code == 200 and "Zugang sperren?" in page_text(asked)
    assert account(app, DORA).status == Status.ACTIVE and dora_browser.get(
        "/account").status_code == 200
    done = act(client, page, f"{page}/disable", confirmed="1")
    assert done.headers["Location"] == page
    assert "Der Zugang ist gesperrt" in page_text(client.get(page))
    assert dora_browser.get("/account").status_code in (302, 303)
    assert post_login(app.test_client(), email=DORA).status_code == 401
    [event] = console_events(app, "accounts disable")
    assert (event.vhs, event.who, event.actor) == ("straubing", dora.sub,
                                                  f"console:straubing/{ANNA}")
    act(client, page, f"{page}/enable")
    assert account(app, DORA).status == Status.ACTIVE
    assert post_login(app.test_client(), email=DORA).status_code == 303
    assert len(console_events(app, "accounts enable")) == 1


def test_an_administrator_cannot_disable_themself(app, world):
    client = signed_in(app)
    anna = account(app, ANNA)
    page = f"/admin/vhs/straubing/people/{anna.id}"
    act(client, page, f"{page}/disable")
    assert "nicht sperren" in page_text(client.get(page))
    assert account(app, ANNA).status == Status.ACTIVE


def test_an_administrator_deletes_an_account_after_asking_why(app, world):
    client = signed_in(app)
    dora_browser = signed_in(app, DORA)
    dora = account(app, DORA)
    page = f"/admin/vhs/straubing/people/{dora.id}"
    assert "Zugang löschen" in page_text(client.get(page))
    asked = act(client, page, f"{page}/delete")  # one click only asks, and why
    assert asked.status_code == 200
    assert "Zugang löschen?" in page_text(asked) and "hat die VHS verlassen" in page_text(asked)
    without_reason = act(client, page, f"{page}/delete", confirmed="1")
    assert without_reason.status_code == 400
    assert "Bitte wählen Sie einen Grund." in page_text(without_reason)
    assert account(app, DORA) is not None
    done = act(client, page, f"{page}/delete", confirmed="1", reason="left_vhs")
    assert done.status_code == 303
    assert done.headers["Location"] == "/admin/vhs/straubing/people"
    assert "Der Zugang ist gelöscht" in page_text(client.get(done.headers["Location"]))
    assert account(app, DORA) is None
    assert dora_browser.get("/account").status_code in (302, 303)
    [event] = console_events(app, "accounts delete")
    assert (event.vhs, event.who, event.reason, event.actor) == (
        "straubing", dora.sub, "left_vhs", f"console:straubing/{ANNA}")


def test_an_administrator_cannot_delete_themself(app, world):
    client = signed_in(app)
    anna = account(app, ANNA)
    page = f"/admin/vhs/straubing/people/{anna.id}"
    assert f"{page}/delete" not in client.get(page).get_data(as_text=True)
    act(client, page, f"{page}/delete", confirmed="1", reason="other")
    assert "unter „Mein Zugang“" in page_text(client.get(page))
    assert account(app, ANNA) is not None


def test_end_sessions(app, world):
    client = signed_in(app)
    dora_browser = signed_in(app, DORA)
    dora = account(app, DORA)
    page = f"/admin/vhs/straubing/people/{dora.id}"
    assert "Keine offenen Sitzungen." not in page_text(client.get(page))
    act(client, page, f"{page}/end-sessions")
    assert dora_browser.get("/account").status_code in (302, 303)
    assert "Keine offenen Sitzungen." in page_text(client.get(page))
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(SsoSession).where(
            SsoSession.account_id == dora.id, SsoSession.ended_at.is_(None))) == 0
    assert len(console_events(app, "accounts end-sessions")) == 1


def test_activation_and_reset_mails_go_through_the_outbox_with_the_same_limits(app, world):
    with app.app_context():  # an account that has not followed its activation link yet
        db.session().get(Account, account(app, DORA).id).status = Status.PENDING
        db.session().commit()
    assert submit(app.test_client(), "/neuer-zugang", DORA).status_code == 200
    dora = account(app, DORA)
    assert dora.status == Status.PENDING
    client = signed_in(app)
    page = f"/admin/vhs/straubing/people/{dora.id}"
    act(client, page, f"{page}/activation-mail")
    assert "vor kurzem" in page_text(client.get(page))  # the interval of the person's own
    app.config["CLOCK"] = lambda: time.time() + app.config["MAIL_INTERVAL_SECONDS"] + 1
    log_in(app, client, email=ANNA)  # a fresh login at the new time
    act(client, page, f"{page}/activation-mail")
    assert "Die Aktivierungsmail ist im Postausgang." in page_text(client.get(page))
    bernd = account(app, BERND)
    act(client, f"/admin/vhs/straubing/people/{bernd.id}",
        f"/admin/vhs/straubing/people/{bernd.id}/reset-mail")
    deliver(app)
    kinds = [(m["To"], m["Subject"]) for m in world.messages]
    assert [to for to, _ in kinds].count("dora@vhs-straubing.de") == 2
    assert BERND in [to for to, _ in kinds]
    assert len(console_events(app, "accounts activation-mail")) == 2
    assert len(console_events(app, "accounts reset-mail")) == 1
    assert PASSWORD not in page_text(client.get(f"/admin/vhs/straubing/people/{bernd.id}"))


def test_the_people_list_searches_filters_and_pages(app, world):
    with app.app_context():
        vhs = db.session().scalar(select(Vhs).where(Vhs.slug == "straubing"))
        db.session().add_all(Account(vhs_id=vhs.id, address=f"person{n:03}@vhs-straubing.de",
                                     display_name=f"Person {n}", status=Status.PENDING)
                             for n in range(60))
        db.session().commit()
    client = signed_in(app)
    first = page_text(client.get("/admin/vhs/straubing/people"))
    assert ANNA in first and "person045@" in first and "person047@" not in first
    more = form_field_link(first)
    second = page_text(client.get(more))
    assert "person047@" in second and "person045@" not in second
    found = page_text(client.get("/admin/vhs/straubing/people?q=Person 12"))
    assert "person012@" in found and "person013@" not in found
    active = page_text(client.get("/admin/vhs/straubing/people?state=active"))
    assert ANNA in active and "person001@" not in active
    long = client.get("/admin/vhs/straubing/people?q=" + "x" * 101)
    assert long.status_code == 400 and "zu lang" in page_text(long)
    assert PAUL not in first


def form_field_link(page: str) -> str:
    """The "Weitere" link of a console list."""
    start = page.index('class="button" href="') + len('class="button" href="')
    return page[start:page.index('"', start)]


@pytest.mark.parametrize("address, access, expected, advice", [
    (ANNA, True, "die Adresse ist so gespeichert, wie eingegeben: Benutzer 1 (Anna Muster)",
     None),
    (BERND, False, "„Im Internet anzeigen“ ist nicht gesetzt",
     "Setzen Sie in KuferSQL beim Benutzer auf dem Reiter „Schalter“ den Haken"),
    ("carla@vhs-straubing.de", False, "der Benutzer ist im Verwaltungsprogramm nicht aktiv",
     "wieder aktiv"),
    ("dora@vhs-straubing.de", True, "ein geschütztes Leerzeichen (U+00A0) an Stelle 22 der "
     "gespeicherten Adresse", "Korrigieren Sie die gespeicherte Adresse"),
    ("erik@vhs-straubing.de", False, "die Adresse steht nicht in der Benutzerverwaltung",
     "genau so ein, wie die Person sie eingibt"),
    ("ana.muster@vhs-straubing.de", False, "dort steht eine ähnliche Adresse, vielleicht mit "
     "einem Tippfehler: Anna.Muster@vhs-straubing.de", "welche Schreibweise stimmt"),
    ("ѕabine@vhs-straubing.de", False, "ein kyrillischer Buchstabe (U+0455), der wie „s“ "
     "aussieht, an Stelle 1 der eingegebenen Adresse", None),
])
def test_the_diagnosis_names_each_case_and_what_to_change(app, world, address, access,
                                                          expected, advice):
    client = signed_in(app)
    answer = act(client, "/admin/vhs/straubing/diagnose", "/admin/vhs/straubing/diagnose",
                 address=address)
    text = page_text(answer)
    assert expected in text
    assert ("Die Person kann einen Zugang bekommen" in text) is access
    assert ("Die Person kommt so nicht hinein" in text) is not access  # one verdict
    if advice:
        assert advice in text
        # advice to a person who gets in is a recommendation, not "what to do" to get in
        assert ("Was zu tun ist:" in text) is not access
        assert access is False or "Empfehlung:" in text
    assert console_events(app, "diagnose")[0].actor == f"console:straubing/{ANNA}"


def test_the_diagnosis_shows_invisible_characters_and_the_last_mails_in_english(app, world):
    submit(app.test_client(), "/neuer-zugang", BERND)
    deliver(app)
    client = signed_in(app)
    client.get("/login?lang=en")
    text = page_text(act(client, "/admin/vhs/straubing/diagnose",
                         "/admin/vhs/straubing/diagnose", address="dora@vhs-straubing.de"))
    assert "dora@vhs-straubing.de⟦U+00A0⟧" in text
    assert "Correct the stored address in the Benutzerverwaltung" in text
    mails = page_text(act(client, "/admin/vhs/straubing/diagnose",
                          "/admin/vhs/straubing/diagnose", address=BERND))
    assert 'mail "note: "Im Internet anzeigen" is missing" of' in mails
    assert ": delivered" in mails and "UTC" not in mails
    assert '"New account" requested' in mails  # the last audit events of the address


def test_a_diagnosis_refuses_an_empty_or_oversized_address(app, world):
    client = signed_in(app)
    for address in ("", " ", "a" * 400):
        answer = act(client, "/admin/vhs/straubing/diagnose", "/admin/vhs/straubing/diagnose",
                     address=address)
        assert answer.status_code == 400 and "höchstens 320 Zeichen" in page_text(answer)


def test_access_requests_show_the_decision_and_the_mail(app, world):
    for address in (BERND, "dora@vhs-straubing.de", "wer@vhs-straubing.de"):
        submit(app.test_client(), "/neuer-zugang", address)
    deliver(app)
    text = page_text(signed_in(app).get("/admin/vhs/straubing/requests"))
    assert "„Im Internet anzeigen“ fehlt" in text
    assert "Hinweis: „Im Internet anzeigen“ fehlt: zugestellt" in text
    assert "dora@vhs-straubing.de" in text and "Hinweis: Zugang schon aktiv: zugestellt" in text
    assert "wer@vhs-straubing.de" in text and "Hinweis: Adresse nicht gefunden" in text


def test_kma_links_are_listed_linked_and_unlinked(app, world):
    client = signed_in(app)
    page = "/admin/vhs/straubing/kma"
    act(client, page, f"{page}/link", address=" Anna.Muster@vhs-straubing.de")
    assert ANNA in page_text(client.get(page))
    assert console_events(app, "kma link")[0].vhs == "straubing"
    bad = act(client, page, f"{page}/link", address="not an address")
    assert bad.status_code == 303 and "Bitte geben Sie eine E-Mail-Adresse ein" in page_text(
        client.get(page))
    act(client, page, f"{page}/unlink", address=ANNA)
    assert "Keine Verknüpfungen." in page_text(client.get(page))
    assert "war nicht verknüpft" in page_text(client.get(act(
        client, page, f"{page}/unlink", address=ANNA).headers["Location"]))
    assert len(console_events(app, "kma unlink")) == 1


def test_the_mail_page_and_a_test_mail(app, world, runner):
    client = signed_in(app)
    page = "/admin/vhs/straubing/mail"
    text = page_text(client.get(page))
    assert f"127.0.0.1, Port {world.port}, unverschlüsselt" in text and SENDER in text
    act(client, page, f"{page}/test", address=ANNA)
    assert f"Die Testmail an {ANNA} wurde an 127.0.0.1 übergeben." in page_text(
        client.get(page))
    assert [m["To"] for m in world.messages] == [ANNA]
    run(runner, "vhs", "set-mail", "straubing", "--host", "127.0.0.1", "--port", "9",
        "--security", "none", "--sender", SENDER, "--user", "u", "--password-stdin",
        input="smtp-geheim-123\n")
    text = page_text(client.get(act(client, page, f"{page}/test", address=ANNA)
                                .headers["Location"]))
    assert "Schritt „connect 127.0.0.1:9“ scheiterte" in text
    assert "smtp-geheim-123" not in text and "Passwort gespeichert" in text
    assert len(console_events(app, "vhs test-mail")) == 2


def test_the_program_page_counts_answers_and_tests_the_connection(app, world):
    post_login(app.test_client(), email=BERND)  # the program answers for Bernd's login
    client = signed_in(app)
    text = page_text(client.get("/admin/vhs/straubing/program"))
    assert "KuferSQL" in text and "kufersql" not in text and "Median" in text
    act(client, "/admin/vhs/straubing/program", "/admin/vhs/straubing/program/test")
    assert "antwortete in" in page_text(client.get("/admin/vhs/straubing/program"))
    paul = signed_in(app, PAUL, "passau")
    act(paul, "/admin/vhs/passau/program", "/admin/vhs/passau/program/test")
    assert "kein Verwaltungsprogramm angebunden" in page_text(
        paul.get("/admin/vhs/passau/program"))


def test_an_unreachable_program_is_said_and_counted(app, world, runner, tmp_path):
    client = signed_in(app)  # before the program went away
    config = write_config(tmp_path, url="postgresql+psycopg://x@127.0.0.1:9/x")
    run(runner, "vhs", "set-adapter", "straubing", "--adapter", "kufersql",
        "--adapter-config", config)
    page = "/admin/vhs/straubing/program"
    act(client, page, f"{page}/test")
    assert "ist nicht erreichbar" in page_text(client.get(page))
    submit(app.test_client(), "/neuer-zugang", "dora@vhs-straubing.de")
    operator = signed_in(app, OPS, "item")
    board = page_text(operator.get("/admin/dashboard"))
    assert "vhs Straubing" in board.split("Verwaltungsprogramm nicht erreichbar")[1]


def test_an_operator_onboards_a_vhs_and_sets_its_mail_server_keeping_the_password(
        app, world, runner):
    client = signed_in(app, OPS, "item")
    assert "vhs Straubing" in page_text(client.get("/admin/"))
    made = act(client, "/admin/", "/admin/vhs", slug="deggendorf", name="vhs Deggendorf",
               onboarded="1")
    assert made.headers["Location"] == "/admin/vhs/deggendorf/settings"
    refused = act(client, "/admin/", "/admin/vhs", slug="Not A Slug", name="x")
    assert "Nicht gespeichert" in page_text(client.get(refused.headers["Location"]))
    settings = "/admin/vhs/deggendorf/settings"
    fields = dict(host="mail.vhs-deggendorf.de", port="587", security="starttls",
                  sender="info@vhs-deggendorf.de", user="smtp-user")
    act(client, settings, f"{settings}/mail", password="smtp-geheim-456", **fields)
    act(client, settings, f"{settings}/mail", password="", **fields)  # kept
    text = page_text(client.get(settings))
    assert "smtp-geheim-456" not in text and "mail.vhs-deggendorf.de" in text
    with app.app_context():
        from idp import mail, tenants
        assert mail.settings_of(tenants.find("deggendorf")).password == "smtp-geheim-456"
    assert "deggendorf" in run(runner, "vhs", "list")
    assert [e.actor for e in console_events(app, "vhs set-mail")].count(
        f"console:item/{OPS}") == 2  # the command line's event has the same name
    act(client, settings, f"{settings}/adapter", adapter="kufersql", options="url = [")
    assert "Nicht gespeichert" in page_text(client.get(settings))


def test_an_operator_adds_a_relying_party_sees_the_secret_once_and_rotates_it(app, world):
    client = signed_in(app, OPS, "item")
    added = act(client, "/admin/clients", "/admin/clients", client_id="portal-app",
                display_name="Portal-App", redirect_uris="https://app.example/callback\n",
                grants="authorization_code")
    secret = added.get_data(as_text=True).split('class="secret">')[1].split("<")[0]
    assert len(secret) >= 32
    page = page_text(client.get("/admin/clients/portal-app"))
    assert secret not in page and "https://app.example/callback" in page
    bad = act(client, "/admin/clients/portal-app", "/admin/clients/portal-app",
              redirect_uris="javascript:alert(1)", display_name="Portal-App")
    assert "Nicht gespeichert" in page_text(client.get(bad.headers["Location"]))
    with app.app_context():
        stored = db.session().scalar(select(Client).where(Client.client_id == "portal-app"))
        assert stored.redirect_uris == ["https://app.example/callback"]
        old_hash = stored.secret_hash
    rotated = act(client, "/admin/clients/portal-app", "/admin/clients/portal-app/secret")
    new = rotated.get_data(as_text=True).split('class="secret">')[1].split("<")[0]
    assert new != secret
    with app.app_context():
        assert db.session().scalar(select(Client.secret_hash).where(
            Client.client_id == "portal-app")) != old_hash
    assert [e.client_id for e in console_events(app, "clients rotate-secret")] == ["portal-app"]
    assert client.get("/admin/clients/nobody").status_code == 404


def test_an_operator_rotates_keys_and_reads_outbox_audit_and_dashboard(app, world):
    client = signed_in(app, OPS, "item")
    before = page_text(client.get("/admin/keys"))
    act(client, "/admin/keys", "/admin/keys/rotate")
    after = page_text(client.get("/admin/keys"))
    assert "nur noch zum Prüfen" in after and before != after
    submit(app.test_client(), "/neuer-zugang", BERND)
    post_login(app.test_client(), email=BERND, password="falsch-falsch-falsch")
    assert BERND in page_text(client.get("/admin/outbox"))
    outbox = page_text(client.get("/admin/outbox?tenant=straubing"))
    assert "Hinweis: „Im Internet anzeigen“ fehlt" in outbox and "not_released" not in outbox
    assert "not_released" not in page_text(client.get("/admin/outbox?tenant=passau"))
    trail = page_text(client.get(f"/admin/audit?email={BERND}&kind=login_failed"
                                 "&tenant=straubing"))
    assert "<td>Anmeldung abgelehnt</td>" in trail
    assert "<td>„Neuer Zugang“ angefragt</td>" not in trail
    board = page_text(client.get("/admin/dashboard"))
    assert "Anmeldungen je Stunde" in board and "falsches Passwort" in board


def test_a_back_field_never_leads_off_the_console(app, world):
    client = signed_in(app)
    page = "/admin/vhs/straubing/kma"
    token = form_field(client.get(page).get_data(as_text=True), "csrf_token")
    for back in ("https://evil.example/", "//evil.example/admin", "/admin/../login",
                 "/account"):
        answer = client.post(f"{page}/link", data={"csrf_token": token, "back": back,
                                                   "address": ANNA})
        assert answer.headers["Location"] == page, back


def test_admins_commands(app, runner, world):
    assert "straubing\tanna.muster@vhs-straubing.de\tadmin" in run(runner, "admins", "list")
    assert "item\tops@itm.example\toperator" in run(runner, "admins", "list")
    run(runner, "admins", "revoke", "--vhs", "straubing", "--email", ANNA)
    assert signed_in(app).get("/admin/").status_code == 403
    run(runner, "admins", "revoke", "--vhs", "straubing", "--email", ANNA, code=1)
    run(runner, "admins", "grant", "--vhs", "straubing", "--email", "nobody@x.de", code=1)
    run(runner, "accounts", "disable", "--vhs", "straubing", "--email", BERND)
    assert account(app, BERND).status == Status.DISABLED
    run(runner, "accounts", "enable", "--vhs", "straubing", "--email", BERND)
    assert "answered 'unknown'" in run(runner, "vhs", "test-program", "straubing")
    assert "not onboarded" in run(runner, "vhs", "set", "passau", "--not-onboarded")


def test_a_disabled_administrator_loses_the_console(app, world, runner):
    client = signed_in(app, PAUL, "passau")
    run(runner, "accounts", "disable", "--vhs", "passau", "--email", PAUL)
    assert client.get("/admin/").status_code == 303  # the session ended with the account
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(OutboxMail).where(
            OutboxMail.kind != "factors_changed")) == 0  # the fixture's app set-up mails


def test_every_operator_setting_is_audited_and_secrets_stay_sealed(app, world):
    client = signed_in(app, OPS, "item")
    settings = "/admin/vhs/passau/settings"
    act(client, settings, f"{settings}/vhs", name="vhs Passau an der Donau", onboarded="1",
        mfa_required="1")
    act(client, settings, f"{settings}/portal", base_url="https://passau.meine-vhs.de",
        credential="portal-geheim-789", connect_timeout="2", read_timeout="5")
    act(client, settings, f"{settings}/portal", base_url="https://passau.meine-vhs.de",
        credential="", connect_timeout="3", read_timeout="5")  # the credential is kept
    act(client, settings, f"{settings}/upstream", issuer="https://passau.meine-vhs.de",
        client_id="vhskoop", client_secret="upstream-geheim-012")
    act(client, settings, f"{settings}/adapter", adapter="directory", options="")
    text = page_text(client.get(settings))
    assert "vhs Passau an der Donau" in text and 'value="3.0"' in text
    assert "portal-geheim-789" not in text and "upstream-geheim-012" not in text
    with app.app_context():
        from idp import portals, tenants
        passau = tenants.find("passau")
        assert portals.portal_for(passau).settings.credential == "portal-geheim-789"
        assert "portal-geheim-789" not in passau.portal_config
        assert passau.adapter == "directory" and passau.mfa_required
    act(client, settings, f"{settings}/portal", remove="1")
    act(client, "/admin/clients", "/admin/clients", client_id="spa", public="1",
        redirect_uris="http://127.0.0.1:9/cb")
    act(client, "/admin/clients/spa", "/admin/clients/spa", display_name="Die SPA",
        redirect_uris="http://127.0.0.1:9/cb\r\nhttp://127.0.0.1:9/cb2", require_mfa="1")
    with app.app_context():
        spa = db.session().scalar(select(Client).where(Client.client_id == "spa"))
        assert spa.redirect_uris == ["http://127.0.0.1:9/cb", "http://127.0.0.1:9/cb2"]
        assert spa.name == "Die SPA" and spa.secret_hash is None and spa.require_mfa
    assert "zweiter Faktor verlangt" in page_text(client.get("/admin/clients/spa"))
    with app.app_context():  # both policy changes through the one domain function
        policy = [(e.vhs, e.client_id, e.detail, e.actor) for e in db.session().scalars(
            select(AuditEvent).where(AuditEvent.kind == "mfa_policy"))]
    assert policy == [("passau", None, "required", f"console:item/{OPS}"),
                      (None, "spa", "required", f"console:item/{OPS}")]
    act(client, "/admin/keys", "/admin/keys/rotate")
    act(client, "/admin/vhs/straubing/program", "/admin/vhs/straubing/program/test")
    with app.app_context():
        done = sorted(e.detail for e in db.session().scalars(select(AuditEvent).where(
            AuditEvent.actor == f"console:item/{OPS}", AuditEvent.kind == "admin")))
    assert done == sorted(["vhs set", "vhs set-portal", "vhs set-portal", "vhs set-upstream",
                           "vhs set-adapter", "vhs set-portal", "clients add", "clients set",
                           "keys rotate", "vhs test-program"])


def test_oversized_settings_are_refused_not_stored_shortened(app, world):
    client = signed_in(app, OPS, "item")
    made = act(client, "/admin/", "/admin/vhs", slug="a" * 70, name="vhs Lang")
    assert "Nicht gespeichert" in page_text(client.get(made.headers["Location"]))
    settings = "/admin/vhs/passau/settings"
    act(client, settings, f"{settings}/vhs", name="x" * 201)
    act(client, settings, f"{settings}/mail", host="mail.example", port="587",
        security="starttls", sender="a" * 330 + "@vhs-passau.de")
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Vhs)) == 3
        passau = db.session().scalar(select(Vhs).where(Vhs.slug == "passau"))
        assert passau.name == "vhs Passau" and passau.mail_config is None


def test_the_console_and_the_command_line_give_a_portal_the_same_defaults(app, world, runner):
    """Without an address or timeouts, both make the portal https://<kürzel>.meine-vhs.de
    with the same timeouts (one constructor: PortalSettings.of_vhs)."""
    client = signed_in(app, OPS, "item")
    settings = "/admin/vhs/passau/settings"
    assert 'placeholder="https://passau.meine-vhs.de"' in client.get(settings).get_data(
        as_text=True)
    act(client, settings, f"{settings}/portal", credential="portal-credential-0123456789",
        base_url="", connect_timeout="", read_timeout="")
    run(runner, "vhs", "set-portal", "straubing", "--credential-stdin",
        input="portal-credential-0123456789\n")
    with app.app_context():
        from idp import portals, tenants
        by_console = portals.portal_for(tenants.find("passau")).settings
        by_command = portals.portal_for(tenants.find("straubing")).settings
    assert by_console.base_url == "https://passau.meine-vhs.de"
    assert by_command.base_url == "https://straubing.meine-vhs.de"
    assert (by_console.connect_timeout, by_console.read_timeout) == (
        by_command.connect_timeout, by_command.read_timeout) == (2.0, 5.0)


def test_the_console_and_the_command_line_record_one_act_under_one_name(app, world, runner):
    """Disabling is "accounts disable", pressed or typed; a read-only command records
    nothing; every other command declares its act (idp.acts), so the trail names it."""
    client = signed_in(app)
    dora, bernd = account(app, DORA), account(app, BERND)
    act(client, f"/admin/vhs/straubing/people/{dora.id}",
        f"/admin/vhs/straubing/people/{dora.id}/disable", confirmed="1")
    run(runner, "accounts", "disable", "--vhs", "straubing", "--email", BERND)
    events = console_events(app, "accounts disable")
    assert sorted(e.actor.split(":")[0] for e in events) == ["cli", "console"]
    assert {e.who for e in events} == {dora.sub, bernd.sub}
    with app.app_context():
        before = db.session().scalar(select(func.count()).select_from(AuditEvent))
    for args in (["accounts", "list"], ["vhs", "list"], ["admins", "list"], ["keys", "list"],
                 ["db", "current"], ["audit", "--limit", "1"], ["kma", "list"]):
        run(runner, *args)
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(AuditEvent)) == before
    commands = [(name, command) for name, group in main.commands.items()
                for command in getattr(group, "commands", {name: group}).values()]
    assert all(acts.ACTS.get(command.act) for _, command in commands
               if getattr(command, "act", None)), "an act without its words"
    assert main.commands["clients"].commands["edit"].act == "clients set"
