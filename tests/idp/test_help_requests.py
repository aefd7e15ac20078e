""""Meine VHS um Hilfe bitten": the mail's link opens a request, the VHS sees why in its
console, and once the program agrees the activation mail goes out by itself."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import create_engine, select, text, update

from idp import db, digest, help
from idp.dev import demo
from idp.models import (
    AuditEvent,
    ConsoleRole,
    EligibilityCheck,
    HelpRequest,
    OutboxMail,
    Vhs,
    now,
)

from ..helpers import PASSWORD, form_field, post_login, run, submit
from .test_console import (  # noqa: F401 - the fixture
    ANNA,
    BERND,
    DORA,
    OPS,
    PAUL,
    act,
    page_text,
    signed_in,
    world,
)

CARLA = "carla@vhs-straubing.de"  # not active in the program: "not registered"


def mails(app, kind: str, to: str = CARLA) -> list[OutboxMail]:
    with app.app_context():
        return list(db.session().scalars(select(OutboxMail).where(
            OutboxMail.kind == kind, OutboxMail.recipient == to)))


def requests_of(app) -> list[HelpRequest]:
    with app.app_context():
        return list(db.session().scalars(select(HelpRequest).order_by(HelpRequest.id)))


def help_link(app) -> str:
    submit(app.test_client(), "/neuer-zugang", CARLA)
    body = mails(app, "not_registered")[0].text_body
    url = re.search(r"Meine VHS um Hilfe bitten: (\S+)", body).group(1)
    return url[len(urlsplit(url).scheme) + 3 + len(urlsplit(url).netloc):]


def ask(app, path: str, message: str = "Ich arbeite seit Mai hier.", client=None):
    client = client or app.test_client()
    page = client.get(path).get_data(as_text=True)
    return client.post("/hilfe/anfrage", data={"csrf_token": form_field(page, "csrf_token"),
                                               "t": form_field(page, "t"),
                                               "message": message})


def activate_in_program(kufer_world) -> None:
    engine = create_engine(kufer_world["url"])
    with engine.begin() as connection:
        connection.execute(text("UPDATE benutzer SET aktiv = 'J' WHERE id = 3"))
    engine.dispose()


def test_the_mail_offers_help_the_vhs_sees_it_and_a_fix_sends_the_activation_mail(
        app, world, kufer_world):  # noqa: F811
    path = help_link(app)
    page = app.test_client().get(path)
    assert page.status_code == 200
    words = page_text(page)
    assert "vhs Straubing" in words and CARLA in words
    sent = ask(app, path)
    assert sent.status_code == 200 and "Ihre Anfrage ist angekommen" in page_text(sent)
    assert ask(app, path, "noch einmal").status_code == 200  # one open request, not two
    [asked] = requests_of(app)
    assert asked.state == "open" and asked.message == "Ich arbeite seit Mai hier."
    with app.app_context():  # kept as data: each check with its outcome and what to do
        failed = [finding for finding in help.findings(asked) if finding.ok is False]
    assert failed and "nicht aktiv" in failed[0].text and failed[0].advice
    assert "nicht aktiv" in help.problem(asked)
    admin = signed_in(app)
    console = page_text(admin.get("/admin/vhs/straubing/hilfe"))
    assert CARLA in console and "Ich arbeite seit Mai hier." in console and "offen" in console
    still = act(admin, "/admin/vhs/straubing/hilfe",
                f"/admin/vhs/straubing/hilfe/{asked.id}/pruefen")
    assert still.status_code == 303 and requests_of(app)[0].state == "open"
    listing = page_text(admin.get("/admin/vhs/straubing/hilfe"))
    assert "sagt weiterhin „im Verwaltungsprogramm nicht aktiv“" in listing
    assert "Erneut geprüft: 1-mal, zuletzt" in listing and "nächste Prüfung" in listing
    activate_in_program(kufer_world)  # the VHS fixes it in KuferSQL
    act(admin, "/admin/vhs/straubing/hilfe", f"/admin/vhs/straubing/hilfe/{asked.id}/pruefen")
    [solved] = requests_of(app)
    assert solved.state == "solved" and solved.closed_by == f"console:straubing/{ANNA}"
    assert len(mails(app, "activation")) == 1
    assert "gelöst" in page_text(admin.get("/admin/vhs/straubing/hilfe"))


def test_the_worker_rechecks_due_requests_and_solves_them(app, world, kufer_world):  # noqa: F811
    ask(app, help_link(app))
    with app.app_context():
        assert help.recheck_due() == {"checked": 0, "solved": 0}  # not due for 10 minutes
        db.session().execute(update(HelpRequest).values(next_check_at=now() - 1))
        db.session().commit()
        assert help.recheck_due() == {"checked": 1, "solved": 0}  # still inactive
        assert db.session().scalar(select(HelpRequest.next_check_at)) >= now() + 590
        activate_in_program(kufer_world)
        db.session().execute(update(HelpRequest).values(next_check_at=now() - 1))
        db.session().commit()
        assert help.recheck_due() == {"checked": 1, "solved": 1}
    [solved] = requests_of(app)
    assert solved.state == "solved" and solved.closed_by == "re-check"
    assert len(mails(app, "activation")) == 1
    with app.app_context():
        kinds = db.session().scalars(select(AuditEvent.reason).where(
            AuditEvent.kind == "help_closed")).all()
    assert kinds == ["solved"]


def test_a_request_unchanged_for_seven_days_expires(app, world):  # noqa: F811
    ask(app, help_link(app))
    with app.app_context():
        db.session().execute(update(HelpRequest).values(
            created_at=now() - 7 * 86400, next_check_at=now() - 1))
        db.session().commit()
        help.recheck_due()
    assert requests_of(app)[0].state == "expired"


def test_a_refusal_needs_a_reason_and_mails_it(app, world):  # noqa: F811
    ask(app, help_link(app))
    [asked] = requests_of(app)
    admin = signed_in(app)
    base = f"/admin/vhs/straubing/hilfe/{asked.id}"
    empty = act(admin, "/admin/vhs/straubing/hilfe", base + "/ablehnen", reason=" ")
    assert empty.status_code == 303 and requests_of(app)[0].state == "open"
    act(admin, "/admin/vhs/straubing/hilfe", base + "/ablehnen",
        reason="Sie sind seit März nicht mehr bei uns tätig.")
    assert requests_of(app)[0].state == "rejected"
    [mail] = mails(app, "help_rejected")
    assert "Sie sind seit März nicht mehr bei uns tätig." in mail.text_body


def test_a_forged_or_damaged_link_and_bad_input_change_nothing(app, world):  # noqa: F811
    path = help_link(app)
    assert app.test_client().get("/hilfe/anfrage?t=erfunden").status_code == 400
    assert app.test_client().get(path[:-3]).status_code == 400
    too_long = ask(app, path, "x" * 1001)
    assert too_long.status_code == 400 and "höchstens 1000 Zeichen" in page_text(too_long)
    token = re.search(r"t=([^&]+)", path).group(1)
    no_csrf = app.test_client().post("/hilfe/anfrage", data={"t": token, "message": "x"})
    assert no_csrf.status_code == 400
    assert requests_of(app) == []


def test_the_help_page_and_a_refused_sign_in_offer_the_link_by_mail(app, world):  # noqa: F811
    client = app.test_client()
    assert "/hilfe/bitten" in client.get("/hilfe").get_data(as_text=True)
    refused = post_login(client, email=DORA, password="nicht das Passwort")
    assert refused.status_code == 401 and "Meine VHS um Hilfe bitten" in page_text(refused)
    assert "Meine VHS um Hilfe bitten" not in page_text(client.get("/login"))
    known = submit(client, "/hilfe/bitten", CARLA)
    unknown = submit(client, "/hilfe/bitten", "niemand@vhs-straubing.de")
    assert known.status_code == unknown.status_code == 200
    def words(response):
        return re.sub(r'nonce="[^"]+"', "", page_text(response))
    assert words(known) == words(unknown)  # the page says nothing of the address
    assert "Mit dem Link darin schicken Sie Ihrer VHS die Bitte um Hilfe" in words(known)
    assert submit(client, "/hilfe/bitten", CARLA).status_code == 200  # once a day: one mail
    [offer] = mails(app, "help_link")
    assert len(mails(app, "help_link", "niemand@vhs-straubing.de")) == 1
    url = re.search(r"(http\S+/hilfe/anfrage\?t=\S+)", offer.text_body).group(1)
    path = url[len(urlsplit(url).scheme) + 3 + len(urlsplit(url).netloc):]
    assert ask(app, path).status_code == 200
    [asked] = requests_of(app)
    assert asked.address == CARLA and "nicht aktiv" in asked.diagnosis
    bad = submit(client, "/hilfe/bitten", "kein at-zeichen")
    assert bad.status_code == 400 and len(mails(app, "help_link")) == 1


def test_the_dashboard_names_whom_item_should_call(app, world, runner):  # noqa: F811
    ask(app, help_link(app))
    run(runner, "vhs", "add", "landshut", "--name", "vhs Landshut", "--onboarded")
    run(runner, "accounts", "add", "--vhs", "landshut", "--email", "lena@vhs-landshut.de",
        "--password-stdin", input=PASSWORD + "\n")
    operator = signed_in(app, OPS, "item")
    board = page_text(operator.get("/admin/dashboard"))
    calls = board[board.index("Wo ITEM anrufen sollte"):board.index("Anmeldungen je Stunde")]
    assert "vhs Landshut" in calls and "vhs Straubing" not in calls  # nothing old, no outage
    assert "vhs Passau" not in calls
    run(runner, "accounts", "disable", "--vhs", "passau", "--email", PAUL)
    with app.app_context():
        db.session().execute(update(HelpRequest).values(created_at=now() - 3 * 86400))
        db.session().execute(update(EligibilityCheck).values(checked_at=now() - 3 * 3600))
        for minutes in (90, 30):  # the program has not answered since 90 minutes
            db.session().add(AuditEvent(at=now() - minutes * 60, kind="program_unavailable",
                                        vhs="straubing", reason="unavailable"))
        db.session().commit()
    board = page_text(operator.get("/admin/dashboard"))
    calls = board[board.index("Wo ITEM anrufen sollte"):board.index("Anmeldungen je Stunde")]
    assert "1 offen, die älteste vom" in calls
    assert calls.count("vhs Straubing") == 2  # a request waiting, a program failing
    assert "vhs Passau" in calls  # its only administrator is disabled
    assert page_text(signed_in(app).get("/admin/dashboard")) != board  # operators only


def test_purge_removes_closed_requests_after_their_days(app, world, runner):  # noqa: F811
    ask(app, help_link(app))
    with app.app_context():
        db.session().add(HelpRequest(vhs_id=requests_of(app)[0].vhs_id, address=DORA,
                                     diagnosis="", state="done",
                                     closed_at=now() - 91 * 86400, created_at=now() - 92 * 86400))
        db.session().add(HelpRequest(vhs_id=requests_of(app)[0].vhs_id, address=BERND,
                                     diagnosis="", state="rejected",
                                     closed_at=now() - 89 * 86400, created_at=now() - 92 * 86400))
        db.session().execute(update(HelpRequest).where(HelpRequest.address == CARLA).values(
            created_at=now() - 200 * 86400))  # open: stays however old
        db.session().commit()
    assert "1 closed help requests" in run(runner, "purge")
    assert sorted(r.address for r in requests_of(app)) == sorted([CARLA, BERND])


def test_a_recheck_that_fails_unexpectedly_backs_off(app, world):  # noqa: F811
    ask(app, help_link(app))
    with app.app_context():
        db.session().execute(update(HelpRequest).values(next_check_at=now() - 1))
        db.session().execute(update(Vhs).where(Vhs.slug == "straubing").values(
            adapter_config="beschädigt", adapter_changed_at=1))  # a damaged stored setting
        db.session().commit()
        assert help.recheck_due() == {"checked": 1, "solved": 0}
        assert help.recheck_due() == {"checked": 0, "solved": 0}  # not again every round
        asked = db.session().scalar(select(HelpRequest))
        assert asked.state == "open" and asked.next_check_at >= now() + 3590


def test_administrators_get_one_digest_a_day_in_their_language_or_none(
        app, world, runner):  # noqa: F811
    with app.app_context():
        assert digest.due() == {"looked at": 2, "sent": 0}  # nothing to tell Anna nor Paul
        assert digest.due() == {"looked at": 0, "sent": 0}  # looked again in an hour
    ask(app, help_link(app))

    def again():  # an hour, or a day, later
        with app.app_context():
            db.session().execute(update(ConsoleRole).values(
                digest_checked_at=None, digest_sent_at=ConsoleRole.digest_sent_at - 86400))
            db.session().execute(update(OutboxMail).values(
                created_at=OutboxMail.created_at - 86400))
            db.session().commit()
            return digest.due()

    assert again() == {"looked at": 2, "sent": 1}  # Anna; Paul's Passau has nothing
    [told] = mails(app, "help_digest", ANNA)
    assert told.locale == "de" and CARLA in told.text_body
    assert "der Benutzer ist im Verwaltungsprogramm nicht aktiv" in told.text_body
    assert "Fehlgeschlagene Anfragen „Neuer Zugang“ seit der letzten Zusammenfassung: 1" \
        in told.text_body
    assert "/admin/vhs/straubing/hilfe" in told.text_body
    with app.app_context():
        assert digest.due() == {"looked at": 0, "sent": 0}  # never two a day
    admin = signed_in(app)
    assert "Tägliche Zusammenfassung per E-Mail" in page_text(admin.get(
        "/admin/vhs/straubing/hilfe"))
    act(admin, "/admin/vhs/straubing/hilfe", "/admin/vhs/straubing/hilfe/zusammenfassung",
        digest="en")
    assert again() == {"looked at": 2, "sent": 1}
    english = mails(app, "help_digest", ANNA)[-1]
    assert english.locale == "en" and "Open help requests: 1" in english.text_body
    act(admin, "/admin/vhs/straubing/hilfe", "/admin/vhs/straubing/hilfe/zusammenfassung",
        digest="none")
    assert again() == {"looked at": 1, "sent": 0}  # only Paul's is looked at
    assert len(mails(app, "help_digest", ANNA)) == 2
    assert act(admin, "/admin/vhs/straubing/hilfe", "/admin/vhs/straubing/hilfe/zusammenfassung",
               digest="fr").status_code == 400
    act(admin, "/admin/vhs/straubing/hilfe", "/admin/vhs/straubing/hilfe/zusammenfassung",
        digest="de")
    run(runner, "accounts", "disable", "--vhs", "straubing", "--email", ANNA)
    assert again() == {"looked at": 1, "sent": 0}  # a disabled administrator is not told
    operator = signed_in(app, OPS, "item")  # an operator has no digest of a VHS
    assert "Tägliche Zusammenfassung" not in page_text(operator.get("/admin/vhs/straubing/hilfe"))


def test_a_request_of_a_disabled_account_waits_for_the_vhs(app, world, runner):  # noqa: F811
    run(runner, "accounts", "disable", "--vhs", "straubing", "--email", DORA)
    submit(app.test_client(), "/hilfe/bitten", DORA)
    url = re.search(r"(http\S+/hilfe/anfrage\?t=\S+)", mails(app, "help_link", DORA)[0]
                    .text_body).group(1)
    ask(app, url[len(urlsplit(url).scheme) + 3 + len(urlsplit(url).netloc):])
    [asked] = requests_of(app)
    admin = signed_in(app)
    answer = act(admin, "/admin/vhs/straubing/hilfe",
                 f"/admin/vhs/straubing/hilfe/{asked.id}/pruefen")
    assert requests_of(app)[0].state == "open"  # the program agrees; the VHS disabled it
    assert mails(app, "activation", DORA) == []
    assert "aber der Zugang ist hier gesperrt" in page_text(
        admin.get(answer.headers["Location"]))


def test_the_recheck_interval_is_a_setting_the_demo_sets(make_app):
    """Declared like every other setting: an installation keeps the schedule (10 minutes on
    the first day, then hourly), the demo's app re-checks every 5 seconds."""
    installation, shown = make_app(), make_app(**demo.SETTINGS)
    with installation.app_context():
        assert (help._interval(60), help._interval(2 * 86400)) == (600, 3600)
    with shown.app_context():
        assert help._interval(60) == help._interval(2 * 86400) == 5
