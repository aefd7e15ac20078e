"""Retention, declared once: every period is a setting, ``settings`` lists it, and
``purge`` enforces each one (here with small values) and says what it removed."""

from __future__ import annotations

import time

from sqlalchemy import select

from idp import db
from idp.models import (
    Account,
    AuditEvent,
    Client,
    HelpRequest,
    LogoutDelivery,
    OutboxMail,
    SsfEvent,
    SsfStream,
    SsoSession,
    Status,
    Token,
    Vhs,
)
from idp.retention import PERIODS
from idp.settings import SETTINGS

from ..helpers import PASSWORD, cli_runner, deliver, post_login, run

DAY = 86400
SMALL = {"AUDIT_DAYS": 5, "AUDIT_IP_DAYS": 1, "SESSIONS_DAYS": 2, "MAIL_DAYS": 3,
         "LOGOUT_NOTICE_DAYS": 2, "SSF_EVENT_DAYS": 3, "HELP_REQUEST_DAYS": 4, "PENDING_DAYS": 1,
         "INACTIVE_DAYS": 30, "LEAVER_DELETE_DAYS": 10}


def test_every_kind_of_data_has_one_retention_setting_listed_by_settings(app, runner):
    assert set(PERIODS) == set(SMALL)
    assert all(SETTINGS[name].kept and SETTINGS[name].kind is int for name in PERIODS)
    listed = {line.split("\t")[0] for line in run(runner, "settings").splitlines()}
    assert {f"IDP_{name}" for name in PERIODS} <= listed


def _plant(app) -> None:
    """For each period, one row just past it (``old``) and one just within (``new``)."""
    moment = int(time.time())

    def ago(name: str, more: int) -> int:
        return moment - SMALL[name] * DAY + more

    with app.app_context():
        session = db.session()
        vhs = session.scalar(select(Vhs))
        session.add(Client(client_id="svc", grant_types=["authorization_code"]))
        stream = SsfStream(stream_id="st", client_id="svc", method="poll")
        session.add(stream)
        session.flush()
        people = {name: Account(vhs_id=vhs.id, address=f"{name}@vhs-straubing.de",
                                status=status, created_at=created, last_login_at=login)
                  for name, status, created, login in (
                      ("gone", Status.ACTIVE, ago("INACTIVE_DAYS", -3600 * 400), None),
                      ("idle", Status.ACTIVE, 1, ago("INACTIVE_DAYS", -60)),
                      ("busy", Status.ACTIVE, 1, moment - 3600),
                      ("never", Status.PENDING, ago("PENDING_DAYS", -60), None),
                      ("left", Status.LEFT, 1, moment - 3600),
                      ("leftnow", Status.LEFT, 1, moment - 3600),
                      ("soon", Status.PENDING, ago("PENDING_DAYS", 3600), None))}
        session.add_all(people.values())
        people["gone"].inactivity_warned_at = moment - 16 * DAY  # warned 16 days ago
        people["left"].left_at = ago("LEAVER_DELETE_DAYS", -60)
        people["leftnow"].left_at = ago("LEAVER_DELETE_DAYS", 3600)
        session.flush()
        for age, tag in ((-60, "old"), (3600, "new")):
            ended = ago("SESSIONS_DAYS", age)
            session.add(SsoSession(sid=f"s-{tag}", secret_hash=f"h-{tag}",
                                   account_id=people["busy"].id, auth_time=1,
                                   expires_at=moment + DAY, ended_at=ended))
            session.add(Token(client_id="svc", account_id=people["busy"].id,
                              access_token_hash=f"a-{tag}", access_expires_at=ended,
                              refresh_token_hash=f"r-{tag}", refresh_expires_at=moment + DAY,
                              refresh_revoked_at=ended, family_id=tag))
            session.add(OutboxMail(vhs_id=vhs.id, recipient="x@vhs-straubing.de", kind="test",
                                   subject=tag, text_body="t", html_body="h",
                                   message_id=f"<{tag}@x>", delivered_at=ago("MAIL_DAYS", age)))
            session.add(LogoutDelivery(client_id="svc", uri="https://svc.example/bc", sub="s",
                                       sid=tag, failed_at=ago("LOGOUT_NOTICE_DAYS", age)))
            session.add(SsfEvent(stream_pk=stream.id, jti=tag, claims={}, subject="s",
                                 created_at=ago("SSF_EVENT_DAYS", age)))
            session.add(HelpRequest(vhs_id=vhs.id, address=f"{tag}@vhs-straubing.de",
                                    diagnosis="[]", state="done",
                                    closed_at=ago("HELP_REQUEST_DAYS", age)))
            session.add(AuditEvent(at=ago("AUDIT_DAYS", age), kind="login", detail=tag))
            session.add(AuditEvent(at=ago("AUDIT_IP_DAYS", age), kind="login",
                                   ip="198.51.100.7", detail=f"ip-{tag}"))
        session.commit()


def test_purge_enforces_each_period_and_prints_what_it_removed(make_app):
    app = make_app(**SMALL)
    runner = cli_runner(app)
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    _plant(app)

    lines = run(runner, "purge").strip().splitlines()

    assert lines == [
        "IDP_AUDIT_DAYS=5: 1 audit events",
        "IDP_AUDIT_IP_DAYS=1: 1 audit IPs shortened",
        "IDP_SESSIONS_DAYS=2: 1 tokens, 0 codes, 1 sessions, 0 eligibility answers",
        "IDP_MAIL_DAYS=3: 1 delivered or given-up mails",
        "IDP_LOGOUT_NOTICE_DAYS=2: 1 logout notices",
        "IDP_SSF_EVENT_DAYS=3: 1 security events",
        "IDP_HELP_REQUEST_DAYS=4: 1 closed help requests",
        "IDP_PENDING_DAYS=1: 1 pending accounts",
        "IDP_INACTIVE_DAYS=30: 1 warned, 1 closed",  # warned 15 days before (half of 30)
        "IDP_LEAVER_DELETE_DAYS=10: 1 closed leavers' accounts",
    ]  # in the order of the declaration
    with app.app_context():
        session = db.session()
        assert dict(session.execute(select(Account.address, Account.status)).all()) == {
            "busy@vhs-straubing.de": "active", "soon@vhs-straubing.de": "pending",
            "leftnow@vhs-straubing.de": "left", "gone@vhs-straubing.de": "left",
            "idle@vhs-straubing.de": "active"}
        assert session.scalar(select(Account.inactivity_warned_at).where(
            Account.address == "idle@vhs-straubing.de")) is not None
        assert list(session.scalars(select(SsoSession.sid))) == ["s-new"]
        assert list(session.scalars(select(Token.family_id))) == ["new"]
        assert sorted(session.execute(select(OutboxMail.kind, OutboxMail.recipient)).all()) == [
            ("inactive", "idle@vhs-straubing.de"), ("test", "x@vhs-straubing.de")]
        assert list(session.scalars(select(LogoutDelivery.sid))) == ["new"]
        assert list(session.scalars(select(SsfEvent.jti))) == ["new"]
        assert list(session.scalars(select(HelpRequest.address))) == ["new@vhs-straubing.de"]
        kept = dict(session.execute(select(AuditEvent.detail, AuditEvent.ip).where(
            AuditEvent.kind == "login")).all())
        assert kept == {"new": None, "ip-old": "198.51.100.0/24", "ip-new": "198.51.100.7"}
        deleted = session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "account_deleted")).all()
        assert [(e.detail, e.actor) for e in deleted] == [("left", "retention")]
        closed = session.scalars(select(AuditEvent).where(AuditEvent.kind == "account_left"))
        assert [e.detail for e in closed] == ["inactive"]


def _anna(app, *mail_server):
    """vhs Straubing (with its mail server, if given) and Anna's account; the runner."""
    runner = cli_runner(app)
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    if mail_server:
        run(runner, "vhs", "set-mail", "straubing", "--host", "127.0.0.1", "--port",
            str(mail_server[0].port), "--security", "none", "--sender", "info@vhs-straubing.de")
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
    return runner


def test_a_sign_in_keeps_an_account_that_inactivity_would_close(make_app):
    app = make_app(INACTIVE_DAYS=30)
    runner = _anna(app)
    with app.app_context():  # made long ago, warned 16 days ago: closed at the next purge
        db.session().execute(Account.__table__.update().values(
            created_at=1, inactivity_warned_at=int(time.time()) - 16 * DAY))
        db.session().commit()
    assert post_login(app.test_client()).status_code == 303
    assert "IDP_INACTIVE_DAYS=30: 0 warned, 0 closed" in run(runner, "purge")
    with app.app_context():
        kept = db.session().scalar(select(Account))
        assert (kept.status, kept.inactivity_warned_at) == (Status.ACTIVE, None)


def test_the_inactivity_mail_goes_out_once_and_says_when(make_app, smtp):
    app = make_app(INACTIVE_DAYS=30)
    runner = _anna(app, smtp)
    with app.app_context():
        db.session().execute(Account.__table__.update().values(created_at=1))
        db.session().commit()
    assert "IDP_INACTIVE_DAYS=30: 1 warned, 0 closed" in run(runner, "purge")
    assert "IDP_INACTIVE_DAYS=30: 0 warned, 0 closed" in run(runner, "purge")  # once
    deliver(app)
    [told] = smtp.to("anna.muster@vhs-straubing.de")
    body = told.get_body(("plain",)).get_content()
    assert told["Subject"] == "Kooperationsportal vhsKOOP: Ihr Zugang wird geschlossen"
    assert "wird am " in body and "geschlossen, weil Sie sich seit dem 01.01.1970" in body
    assert "melden Sie sich vorher einmal an" in body


def test_inactivity_is_switched_off_with_0(make_app):
    app = make_app(INACTIVE_DAYS=0)
    runner = _anna(app)
    with app.app_context():
        db.session().execute(Account.__table__.update().values(created_at=1))
        db.session().commit()
    assert "IDP_INACTIVE_DAYS=0: 0 warned, 0 closed" in run(runner, "purge")
