# ruff: noqa: F811 - ``world`` is a fixture imported from test_console
"""The day someone leaves, as stories on the KuferSQL world: the program stops listing Dora,
and her access ends at every service, her account closes after the grace period and is
deleted after the deletion period; a program that fails changes nothing; the brake; coming
back with the same ``sub``."""

from __future__ import annotations

import base64
import time

from sqlalchemy import create_engine, func, select, text, update

from idp import db, digest, lifecycle
from idp.models import Account, AuditEvent, LogoutDelivery, SsoSession, Status, Vhs, now

from ..helpers import (
    FLOW_CALLBACK,
    account_of,
    code_flow,
    deliver,
    form_field,
    post_login,
    run,
    write_config,
)
from .test_console import BERND, DORA, OPS, act, page_text, signed_in, world  # noqa: F401
from .test_forgetting import _holding
from .test_operations import _value

SECRETS = {"vhskoop": "leaver-test-secret-vhskoop-0123456789abcdef",
           "feedback": "leaver-test-secret-feedback-0123456789abcdef"}


def _program(kufer_world, statement: str) -> None:
    """Change the Verwaltungsprogramm's user table, as the VHS would in KuferSQL."""
    engine = create_engine(kufer_world["url"])
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


def _dora_at_two_services(app, runner) -> tuple[object, dict]:
    """Dora signed in at vhsKOOP and itm:FEEDBACK (both with back-channel logout); her
    browser and her tokens per service."""
    for client_id in SECRETS:
        run(runner, "clients", "add", client_id, "--secret", SECRETS[client_id],
            "--redirect-uri", FLOW_CALLBACK, "--scope", "openid profile email offline_access",
            "--grant", "authorization_code", "--grant", "refresh_token", "--first-party",
            "--backchannel-logout-uri", f"https://{client_id}.example/backchannel")
    browser = app.test_client()
    tokens = {client_id: code_flow(browser, client_id, secret, DORA,
                                   scope="openid email offline_access")
              for client_id, secret in SECRETS.items()}
    return browser, tokens


def _pass(runner, *extra) -> list[str]:
    return run(runner, "lifecycle", "run", *extra).strip().splitlines()


def _events(app, kind: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session().scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


def test_a_no_at_a_pass_ends_the_sessions_and_tells_each_service(app, runner, world,
                                                                  kufer_world):
    browser, tokens = _dora_at_two_services(app, runner)
    dora = account_of(app, DORA)
    assert _pass(runner) == [  # Bernd is not released: his access ends with this first pass;
        # Dora's sign-in asked the program a moment ago, so she is not due yet
        "straubing: 2 checked (1 yes, 1 no); 1 access ended, 0 moving, 0 back, 0 closed, 0 deleted"]
    assert account_of(app, DORA).leaving_since is None

    _program(kufer_world, "UPDATE benutzer SET aktiv = 'N' WHERE id = 4")
    app.config["LIFECYCLE_CHECK_HOURS"] = 1
    with app.app_context():  # her last answer is older than the period
        db.session().execute(text("UPDATE eligibility_checks SET checked_at = checked_at - 7200"))
        db.session().commit()
    assert _pass(runner) == [
        "straubing: 3 checked (1 yes, 2 no); 1 access ended, 0 moving, 0 back, 0 closed, 0 deleted"]

    after = account_of(app, DORA)
    assert after.status == Status.ACTIVE and after.leaving_since is not None
    assert browser.get("/account").status_code in (302, 303)  # her SSO session is over
    for client_id, issued in tokens.items():
        userinfo = app.test_client().get("/userinfo", headers={
            "Authorization": f"Bearer {issued['access_token']}"})
        assert userinfo.status_code == 401, client_id
        basic = base64.b64encode(f"{client_id}:{SECRETS[client_id]}".encode()).decode()
        refreshed = app.test_client().post("/token", headers={
            "Authorization": f"Basic {basic}"}, data={
            "grant_type": "refresh_token", "refresh_token": issued["refresh_token"]})
        assert refreshed.get_json()["error"] == "invalid_grant"
    with app.app_context():
        notices = db.session().execute(select(LogoutDelivery.client_id).where(
            LogoutDelivery.sub == dora.sub)).scalars().all()
        assert sorted(notices) == ["feedback", "vhskoop"]
    [why] = [e for e in _events(app, "leaving") if e.who == dora.sub]
    assert why.reason == "inactive"
    assert post_login(app.test_client(), email=DORA).status_code == 401


def test_after_the_grace_period_closed_then_deleted_and_nothing_is_left(app, runner, world,
                                                                        kufer_world):
    app.config.update(LEAVER_GRACE_DAYS=0, LEAVER_DELETE_DAYS=0, LIFECYCLE_CHECK_HOURS=1)
    _dora_at_two_services(app, runner)
    dora = account_of(app, DORA)
    _program(kufer_world, "DELETE FROM benutzer WHERE id = 4")

    def next_pass() -> list[str]:
        with app.app_context():
            db.session().execute(text("UPDATE eligibility_checks SET checked_at = 0"))
            db.session().commit()
        return _pass(runner)

    # Dora and Bernd:
    assert "2 access ended, 0 moving, 0 back, 0 closed, 0 deleted" in next_pass()[0]
    assert account_of(app, DORA).no_answers == 1  # one answer is not enough to close
    assert "0 access ended, 0 moving, 0 back, 2 closed, 0 deleted" in next_pass()[0]
    closed = account_of(app, DORA)
    assert closed.status == Status.LEFT and closed.left_at is not None
    assert [e.who for e in _events(app, "account_left")].count(dora.sub) == 1
    assert "0 closed, 2 deleted" in next_pass()[0]  # a period of 0: at the next pass

    assert account_of(app, DORA) is None
    assert _holding(app, dora.id, (DORA, dora.sub)) == set()
    deleted = [e for e in _events(app, "account_deleted") if e.who == dora.sub]
    assert [(e.actor, e.detail) for e in deleted] == [("retention", "left")]


def test_a_program_that_fails_three_passes_closes_nobody(app, runner, world, tmp_path):
    app.config.update(LEAVER_GRACE_DAYS=0, LIFECYCLE_CHECK_HOURS=1)
    config = write_config(tmp_path, url="postgresql+psycopg://x@127.0.0.1:9/x", timeout=2)
    run(runner, "vhs", "set-adapter", "straubing", "--adapter", "kufersql",
        "--adapter-config", config)
    for _ in range(3):
        [line] = _pass(runner)
        assert line.startswith("straubing: 0 checked (0 yes, 0 no); program unavailable (")
        assert line.endswith("); nothing changed")
    with app.app_context():
        session = db.session()
        assert session.scalar(select(func.count()).select_from(Account).where(
            Account.leaving_since.is_not(None))) == 0
        assert session.scalar(select(func.count()).select_from(Account).where(
            Account.status == Status.LEFT)) == 0


def test_the_brake_a_program_that_says_no_for_everyone_closes_nobody(app, runner, world):
    with app.app_context():
        session = db.session()
        vhs_id = account_of(app, DORA).vhs_id
        session.add_all([Account(vhs_id=vhs_id, address=f"kollege{n}@vhs-straubing.de",
                                 status=Status.ACTIVE) for n in range(50)])
        session.commit()
    assert _pass(runner) == [  # 51 of 53 unknown (Bernd not released): a broken table?
        "straubing: 53 checked (2 yes, 51 no); BRAKED: too many would leave at once; "
        "nothing changed"]
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Account).where(
            Account.leaving_since.is_not(None))) == 0
    [braked] = _events(app, "lifecycle_braked")
    assert (braked.vhs, braked.detail) == ("straubing", "51/53")


def test_the_brake_holds_when_the_worker_asks_a_few_accounts_a_round(app, runner, world):
    """Spread over the period, an emptied user table shows as one "no" a round: the brake
    judges the whole period and holds after the fifth."""
    with app.app_context():
        vhs_id = account_of(app, DORA).vhs_id
        db.session().add_all([Account(vhs_id=vhs_id, address=f"weg{n}@vhs-straubing.de",
                                      status=Status.ACTIVE) for n in range(30)])
        db.session().commit()
        straubing = db.session().get(Vhs, vhs_id)
        for _ in range(12):  # Anna, Bernd, Dora, then the 30 the program does not know
            lifecycle.run_at(straubing, now(), limit=1)
            db.session().commit()
        leaving = db.session().scalars(select(Account.address).where(
            Account.leaving_since.is_not(None))).all()
    assert sorted(leaving) == sorted([BERND] + [f"weg{n}@vhs-straubing.de" for n in range(3)])
    assert len(_events(app, "lifecycle_braked")) == 1  # recorded once, not every round


def test_a_leaver_listed_again_signs_in_with_the_same_sub(app, runner, world,
                                                          kufer_world):
    app.config.update(LEAVER_GRACE_DAYS=0, LIFECYCLE_CHECK_HOURS=1, ELIGIBILITY_CACHE_SECONDS=0)
    dora = account_of(app, DORA)
    _program(kufer_world, "UPDATE benutzer SET internet_anzeigen = 'N' WHERE id = 4")
    for _ in range(2):
        with app.app_context():
            db.session().execute(text("UPDATE eligibility_checks SET checked_at = 0"))
            db.session().commit()
        _pass(runner)
    assert account_of(app, DORA).status == Status.LEFT
    assert post_login(app.test_client(), email=DORA).status_code == 401

    _program(kufer_world, "UPDATE benutzer SET internet_anzeigen = 'J' WHERE id = 4")
    assert post_login(app.test_client(), email=DORA).status_code == 303
    back = account_of(app, DORA)
    assert (back.status, back.sub, back.leaving_since, back.left_at) == (
        Status.ACTIVE, dora.sub, None, None)
    assert [e.who for e in _events(app, "account_back")] == [dora.sub]


def test_a_no_at_a_sign_in_or_a_refresh_ends_the_access_at_once(app, runner, world,
                                                                kufer_world):
    app.config["ELIGIBILITY_CACHE_SECONDS"] = 0
    browser, tokens = _dora_at_two_services(app, runner)
    _program(kufer_world, "UPDATE benutzer SET aktiv = 'N' WHERE id = 4")
    basic = base64.b64encode(f"vhskoop:{SECRETS['vhskoop']}".encode()).decode()
    refreshed = app.test_client().post("/token", headers={"Authorization": f"Basic {basic}"},
                                       data={"grant_type": "refresh_token",
                                             "refresh_token": tokens["vhskoop"]["refresh_token"]})
    assert refreshed.get_json()["error"] == "invalid_grant"
    assert account_of(app, DORA).leaving_since is not None
    assert browser.get("/account").status_code in (302, 303)  # the refresh's "no" ended it
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(SsoSession).where(
            SsoSession.account_id == account_of(app, DORA).id,
            SsoSession.ended_at.is_(None))) == 0
        assert sorted(db.session().scalars(select(LogoutDelivery.client_id))) == [
            "feedback", "vhskoop"]


def test_a_dry_run_says_what_would_change_and_changes_nothing(app, runner, world,
                                                              kufer_world):
    _program(kufer_world, "UPDATE benutzer SET aktiv = 'N' WHERE id = 4")
    assert _pass(runner, "--dry-run", "--vhs", "straubing") == [
        "(dry run) straubing: 3 checked (1 yes, 2 no); 2 access ended, 0 moving, 0 back, 0 closed, "
        "0 deleted"]
    assert account_of(app, DORA).leaving_since is None
    assert _events(app, "leaving") == []
    with app.app_context():
        db.session().execute(update(Account).values(status=Status.ACTIVE))
        db.session().commit()
    assert "--vhs" in run(runner, "lifecycle", "run", "--vhs", "passau", code=2)


def test_the_console_shows_leaving_and_closed_people_and_filters_them(app, runner, world,
                                                                      kufer_world):
    app.config.update(LEAVER_GRACE_DAYS=0, LIFECYCLE_CHECK_HOURS=1, LEAVER_DELETE_DAYS=90)
    _program(kufer_world, "UPDATE benutzer SET aktiv = 'N' WHERE id = 4")
    _pass(runner)  # Bernd (not released) and Dora (inactive) leave: their first "no"
    with app.app_context():
        db.session().execute(update(Account).where(Account.address == BERND).values(
            no_answers=2))  # Bernd has said no twice: he is closed at the next pass
        db.session().execute(text("UPDATE eligibility_checks SET checked_at = 0 "
                                  "WHERE address = :a"), {"a": "anna.muster@vhs-straubing.de"})
        db.session().commit()
    _pass(runner)
    admin = signed_in(app)
    listing = page_text(admin.get("/admin/vhs/straubing/people"))
    assert "ausgeschieden seit" in listing and "gelöscht" in listing  # Bernd
    assert "verlässt die VHS: das Verwaltungsprogramm sagt seit" in listing  # Dora
    leaving = page_text(admin.get("/admin/vhs/straubing/people?state=leaving"))
    assert DORA in leaving and BERND not in leaving
    closed = page_text(admin.get("/admin/vhs/straubing/people?state=left"))
    assert BERND in closed and DORA not in closed
    person = page_text(admin.get(f"/admin/vhs/straubing/people/{account_of(app, DORA).id}"))
    assert "verlässt die VHS" in person


def test_an_account_closed_for_inactivity_stays_closed_until_its_person_signs_in(
        app, runner, world):
    """The program's "yes" says nothing about someone who stopped using the account: the
    pass leaves it closed; the person's own sign-in opens it again."""
    with app.app_context():
        db.session().execute(update(Account).where(Account.address == DORA).values(
            status=Status.LEFT, left_at=now(), leaving_since=None))
        db.session().commit()
    _pass(runner)
    assert account_of(app, DORA).status == Status.LEFT
    assert post_login(app.test_client(), email=DORA).status_code == 303
    assert account_of(app, DORA).status == Status.ACTIVE


def test_zugang_behalten_keeps_a_leaver_from_being_closed_until_its_end(app, runner, world,
                                                                         kufer_world):
    app.config.update(LEAVER_GRACE_DAYS=0, LIFECYCLE_CHECK_HOURS=1)
    admin = signed_in(app)
    dora = account_of(app, DORA)
    page = f"/admin/vhs/straubing/people/{dora.id}"
    refused = admin.post(f"{page}/keep", data={
        "csrf_token": _token(admin, page), "back": page, "reason": "", "until": "2099-01-01"})
    assert "Bitte nennen Sie einen Grund" in page_text(admin.get(refused.headers["Location"]))
    later = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 30 * 86400))
    kept = admin.post(f"{page}/keep", data={
        "csrf_token": _token(admin, page), "back": page, "reason": "Elternzeit bis März",
        "until": later})
    assert "wird bis zum Enddatum behalten" in page_text(admin.get(kept.headers["Location"]))
    assert "Elternzeit bis März" in page_text(admin.get(page))
    _program(kufer_world, "DELETE FROM benutzer WHERE id = 4")
    for _ in range(3):
        with app.app_context():
            db.session().execute(text("UPDATE eligibility_checks SET checked_at = 0"))
            db.session().commit()
        _pass(runner)
    kept_account = account_of(app, DORA)
    assert kept_account.status == Status.ACTIVE and kept_account.leaving_since is not None
    assert account_of(app, BERND).status == Status.LEFT  # no exception for him
    with app.app_context():
        [act] = db.session().scalars(select(AuditEvent).where(
            AuditEvent.detail == "accounts keep")).all()
        assert act.who == dora.sub
    assert "Bitte geben Sie ein Datum an" in run(
        runner, "accounts", "keep", "--vhs", "straubing", "--email", DORA, "--until", "gestern",
        "--reason", "Elternzeit", code=2)
    assert "kept dora@vhs-straubing.de at straubing until " in run(
        runner, "accounts", "keep", "--vhs", "straubing", "--email", DORA, "--until", later,
        "--reason", "Elternzeit")


def _token(client, page: str) -> str:
    return form_field(client.get(page).get_data(as_text=True), "csrf_token")


def test_itm_sees_a_braked_pass_and_confirms_or_dismisses_it(app, runner, world):
    with app.app_context():
        vhs_id = account_of(app, DORA).vhs_id
        db.session().add_all([Account(vhs_id=vhs_id, address=f"kollege{n}@vhs-straubing.de",
                                      status=Status.ACTIVE) for n in range(10)])
        db.session().commit()
    assert "BRAKED" in _pass(runner)[0]
    admin = signed_in(app)  # the VHS's administrator: told, but ITEM decides
    program = page_text(admin.get("/admin/vhs/straubing/program"))
    assert "Prüfung auf Ausgeschiedene angehalten" in program
    assert "ITEM ist informiert" in program and "Bestätigen" not in program
    operator = signed_in(app, OPS, "item")
    board = page_text(operator.get("/admin/dashboard"))
    assert "vhs Straubing" in board.split("Prüfung auf Ausgeschiedene angehalten")[1][:300]

    dismissed = act(operator, "/admin/vhs/straubing/program",
                    "/admin/vhs/straubing/lifecycle/dismiss")
    assert "Verworfen" in page_text(operator.get(dismissed.headers["Location"]))
    assert "Prüfung auf Ausgeschiedene angehalten" not in page_text(
        operator.get("/admin/vhs/straubing/program"))
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Account).where(
            Account.leaving_since.is_not(None))) == 0

    with app.app_context():  # braked again later: this time the people did leave
        db.session().add(AuditEvent(kind="lifecycle_braked", vhs="straubing",
                                    detail="11/13", at=now() + 1))
        db.session().commit()
    time.sleep(1.1)
    confirmed = act(operator, "/admin/vhs/straubing/program",
                    "/admin/vhs/straubing/lifecycle/confirm")
    assert "Bestätigt: 11 Personen" in page_text(operator.get(confirmed.headers["Location"]))
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Account).where(
            Account.leaving_since.is_not(None))) == 11  # the 10 and Bernd
    assert "vhs Straubing" not in page_text(operator.get("/admin/dashboard")).split(
        "Prüfung auf Ausgeschiedene angehalten")[1][:200]


def test_metrics_count_what_the_passes_did_per_vhs(app, runner, world):
    def value(text: str, what: str) -> float:
        return _value(text, f'idp_lifecycle_total{{vhs="straubing",what="{what}"}}')

    before = app.test_client().get("/metrics").get_data(as_text=True)
    _pass(runner)  # Anna, Bernd and Dora asked; Bernd's access ends
    after = app.test_client().get("/metrics").get_data(as_text=True)
    assert value(after, "checked") - value(before, "checked") == 3
    assert value(after, "ended") - value(before, "ended") == 1


def test_the_daily_digest_lists_the_leavers_of_the_day(app, runner, world):
    smtp = world
    _pass(runner)  # Bernd's access ends: the program does not release him
    with app.app_context():
        assert digest.due()["sent"] == 1  # Anna, the administrator of straubing
    deliver(app)
    [told] = [m for m in smtp.to("anna.muster@vhs-straubing.de")
              if "Hilfe-Anfragen" in m["Subject"]]
    body = told.get_body(("plain",)).get_content()
    assert "Nicht mehr im Verwaltungsprogramm, Zugang beendet: 1" in body
    assert f"- {BERND}" in body


def test_a_diagnosis_only_looks_and_ends_nobodys_access(app, runner, world, kufer_world):
    browser, _ = _dora_at_two_services(app, runner)
    _program(kufer_world, "UPDATE benutzer SET aktiv = 'N' WHERE id = 4")
    assert "cannot get access" in run(runner, "diagnose", "--vhs", "straubing", "--email",
                                      DORA, code=1)
    assert account_of(app, DORA).leaving_since is None
    assert browser.get("/account").status_code == 200  # still signed in


def test_the_programs_user_id_is_kept_and_an_unknown_answer_keeps_it(app, runner, world,
                                                                     kufer_world):
    """For movers: the answer's user id is kept with the address, and stays when the
    address later becomes unknown (the program may know the user under another one)."""
    _pass(runner)
    with app.app_context():
        kept = dict(db.session().execute(text(
            "SELECT address, program_user_id FROM eligibility_checks")).all())
    assert kept[DORA] == "4" and kept[BERND] == "2"
    _program(kufer_world, "UPDATE benutzer SET email = 'dora.neu@vhs-straubing.de' WHERE id = 4")
    with app.app_context():
        db.session().execute(text("UPDATE eligibility_checks SET checked_at = 0"))
        db.session().commit()
    _pass(runner)
    with app.app_context():
        row = db.session().execute(text(
            "SELECT status, program_user_id FROM eligibility_checks WHERE address = :a"),
            {"a": DORA}).one()
    assert tuple(row) == ("unknown", "4")
