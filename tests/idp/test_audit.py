"""The audit trail: what happened, to whom, from where; the command that prints it; what
``purge`` removes and shortens."""

from __future__ import annotations

import getpass
import time

import requests
from sqlalchemy import func, select

from idp import audit, db
from idp.models import Account, AccountToken, AuditEvent, OutboxMail, Status, Vhs

from ..helpers import PASSWORD, RelyingParty, add_client, form_field, post_login, run


def kinds(app) -> list[tuple]:
    with app.app_context():
        return [(e.kind, e.source, e.reason) for e in db.session().scalars(
            select(AuditEvent).order_by(AuditEvent.id))]


def test_sign_ins_refusals_and_admin_commands_are_recorded(app, runner, tenant):
    post_login(app.test_client(), password="falsch-falsch", ip="192.0.2.44")
    post_login(app.test_client())
    events = kinds(app)
    assert ("login_failed", "local", "wrong_password") in events
    assert ("login", "local", None) in events
    with app.app_context():
        admin = db.session().scalars(select(AuditEvent).where(AuditEvent.kind == "admin"))
        assert {(e.detail, e.vhs) for e in admin} >= {("vhs add", "straubing"),
                                                       ("accounts add", "straubing")}
        failed = db.session().scalar(select(AuditEvent).where(
            AuditEvent.kind == "login_failed"))
        assert failed.ip == "192.0.2.44" and "@" not in failed.who
        assert failed.who == audit.address_tag("straubing", "anna.muster@vhs-straubing.de")
        sub = db.session().scalar(select(Account.sub))
        assert db.session().scalar(select(AuditEvent.who).where(AuditEvent.kind == "login")) \
            == sub


def test_the_whole_story_leaves_its_events(live, browser):
    secret = add_client(live, "vhskoop")  # not first-party: consent is asked
    rp = RelyingParty(live.url, "vhskoop", secret)
    response = browser.get(rp.authorization_url())
    response = browser.login(response.headers["Location"], "straubing",
                             "anna.muster@vhs-straubing.de", PASSWORD)
    page = browser.get(response.headers["Location"]).text
    action = page.split('<form method="post" action="')[1].split('"')[0].replace("&amp;", "&")
    callback = browser.post(action, {"csrf_token": form_field(page, "csrf_token"),
                                     "allow": "Zulassen"}).headers["Location"]
    token = rp.fetch_token(callback)
    requests.post(live.url + "/revoke", data={"token": token["refresh_token"]},
                  auth=("vhskoop", secret), timeout=10)
    events = [kind for kind, _, _ in kinds(live.app)]
    assert {"login", "consent", "revocation"} <= set(events)
    with live.app.app_context():
        event = db.session().scalar(select(AuditEvent).where(AuditEvent.kind == "login"))
        assert event.client_id == "vhskoop"


def test_the_audit_command_filters_by_vhs_address_and_time(app, runner, tenant):
    post_login(app.test_client(), password="falsch-falsch")
    post_login(app.test_client(), email="niemand@vhs-straubing.de", password="falsch-falsch")
    output = run(runner, "audit", "--email", "Anna.Muster@vhs-straubing.de")
    lines = output.strip().splitlines()
    assert lines and all("\tlogin_failed\t" in line or line.endswith(
        f"\taccounts add\tKommandozeile ({getpass.getuser()})") for line in lines)
    assert [line for line in lines if "\tadmin\t" in line]  # the command made her account
    assert len([line for line in lines if "login_failed" in line]) == 1
    assert "niemand" not in output and "anna" not in output  # who is a tag, not an address
    assert "login_failed" in run(runner, "audit", "--vhs", "straubing", "--since", "1h")
    assert run(runner, "audit", "--since", "2999-01-01").strip() == ""
    assert "--since" in run(runner, "audit", "--since", "gestern", code=2)


def test_purge_removes_old_events_shortens_old_ips_and_drops_what_is_done(app, runner, tenant):
    now = int(time.time())
    with app.app_context():
        session = db.session()
        vhs = session.scalar(select(Vhs))
        session.add_all([
            AuditEvent(at=now - 200 * 86400, kind="login", ip="192.0.2.1"),
            AuditEvent(at=now - 10 * 86400, kind="login", ip="192.0.2.77"),
            AuditEvent(at=now - 10 * 86400, kind="login", ip="2001:db8:1:2::5"),
            AuditEvent(at=now, kind="login", ip="192.0.2.99"),
            OutboxMail(vhs_id=vhs.id, recipient="a@b.de", kind="test", subject="s",
                       text_body="t", html_body="h", message_id="<1@x>",
                       created_at=now - 9 * 86400, delivered_at=now - 8 * 86400),
            OutboxMail(vhs_id=vhs.id, recipient="a@b.de", kind="test", subject="s",
                       text_body="t", html_body="h", message_id="<2@x>", created_at=now)])
        pending = Account(vhs_id=vhs.id, address="nie@vhs.de", status=Status.PENDING,
                          created_at=now - 8 * 86400)
        waiting = Account(vhs_id=vhs.id, address="bald@vhs.de", status=Status.PENDING,
                          created_at=now - 8 * 86400)
        session.add_all([pending, waiting])
        session.flush()
        session.add(AccountToken(account_id=waiting.id, purpose="activate", token_hash="x" * 64,
                                 expires_at=now + 3600))
        session.commit()
    output = run(runner, "purge")
    assert "1 delivered or given-up mails" in output and "1 pending accounts" in output
    assert "1 audit events" in output
    with app.app_context():
        session = db.session()
        ips = sorted(session.scalars(select(AuditEvent.ip).where(AuditEvent.kind == "login",
                                                                 AuditEvent.ip.is_not(None))))
        assert ips == ["192.0.2.0/24", "192.0.2.99", "2001:db8:1::/48"]
        assert session.scalar(select(func.count()).select_from(OutboxMail)) == 1
        assert {a.address for a in session.scalars(select(Account))} == {
            "anna.muster@vhs-straubing.de", "bald@vhs.de"}


def test_security_headers_on_https(make_app, tenant):
    app = make_app(ISSUER="https://login.vhskoop.de")
    response = app.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "form-action 'self'" in response.headers["Content-Security-Policy"]


def test_form_action_allows_the_client_the_login_resumes(live, browser):
    add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", "x" * 40)
    login = browser.get(browser.get(rp.authorization_url()).headers["Location"])
    assert "form-action 'self' http://127.0.0.1:8765" in login.headers[
        "Content-Security-Policy"]
    forged = browser.get("/login?next=/authorize%3Fclient_id%3Dvhskoop%26redirect_uri%3D"
                         "https%253A%252F%252Fevil.example%252F")
    assert "evil.example" not in forged.headers["Content-Security-Policy"]


def test_form_post_pages_allow_exactly_their_client(live, browser):
    add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", "x" * 40)
    callback_page = browser.authorize(rp.authorization_url(response_mode="form_post"),
                                      "straubing", "anna.muster@vhs-straubing.de", PASSWORD)
    assert callback_page.status_code == 200
    assert "form-action 'self' http://127.0.0.1:8765" in callback_page.headers[
        "Content-Security-Policy"]
