"""Deleting an account (GDPR Art. 17): ``vhskoop-idp accounts delete`` and idp.deletion."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select, update

from idp import db
from idp.models import (
    Account,
    AuditEvent,
    EligibilityCheck,
    HelpRequest,
    LogoutDelivery,
    OutboxMail,
    SsoSession,
    Token,
    Vhs,
)

from ..helpers import (
    PASSWORD,
    account_of,
    form_field,
    give_totp,
    plant_help_and_mails,
    post_login,
    run,
)

ANNA = "anna.muster@vhs-straubing.de"
OTHER = "berta.beispiel@vhs-straubing.de"
CALLBACK = "https://app.vhskoop.de/cb"
CLIENT_SECRET = "delete-test-secret-0123456789abcdef0123456789"


def _tokens(app) -> dict:
    """Anna signs in at the service through the code flow; its token response."""
    client = app.test_client()
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    query = {"client_id": "vhskoop", "response_type": "code", "redirect_uri": CALLBACK,
             "scope": "openid email", "state": "s", "nonce": secrets.token_urlsafe(8),
             "code_challenge": challenge, "code_challenge_method": "S256"}
    login_url = client.get("/authorize", query_string=query).headers["Location"]
    page = client.get(login_url).get_data(as_text=True)
    answer = client.post("/login", data={
        "csrf_token": form_field(page, "csrf_token"), "next": form_field(page, "next"),
        "tenant": "straubing", "email": ANNA, "password": PASSWORD})
    answer = client.get(answer.headers["Location"])
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    basic = base64.b64encode(f"vhskoop:{CLIENT_SECRET}".encode()).decode()
    return client.post("/token", headers={"Authorization": f"Basic {basic}"}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": verifier}).get_json()


def _about(app, address: str) -> dict:
    """How many rows of each kind are about ``address`` at vhs Straubing."""
    with app.app_context():
        session = db.session()
        vhs_id = session.scalar(select(Vhs.id).where(Vhs.slug == "straubing"))

        def count(model, *where):
            return session.scalar(select(func.count()).select_from(model).where(*where))

        account = session.scalar(select(Account).where(Account.address == address))
        return {
            "account": account is not None,
            "sessions": count(SsoSession, SsoSession.account_id == account.id) if account else 0,
            "tokens": count(Token, Token.account_id == account.id) if account else 0,
            "help": count(HelpRequest, HelpRequest.vhs_id == vhs_id,
                          HelpRequest.address == address),
            "unsent": count(OutboxMail, OutboxMail.vhs_id == vhs_id,
                            OutboxMail.recipient == address, OutboxMail.delivered_at.is_(None)),
            "sent": count(OutboxMail, OutboxMail.vhs_id == vhs_id,
                          OutboxMail.recipient == address, OutboxMail.delivered_at.is_not(None)),
            "answers": count(EligibilityCheck, EligibilityCheck.vhs_id == vhs_id,
                             EligibilityCheck.address == address),
        }


def test_accounts_delete_removes_the_account_and_every_row_about_it(app, tenant, runner):
    run(runner, "clients", "add", "vhskoop", "--secret", CLIENT_SECRET, "--redirect-uri",
        CALLBACK, "--scope", "openid email", "--first-party",
        "--backchannel-logout-uri", "https://app.vhskoop.de/backchannel")
    run(runner, "accounts", "add", "--vhs", "straubing", "--email", OTHER,
        "--password-stdin", input=PASSWORD + "\n")
    token = _tokens(app)["access_token"]
    for address in (ANNA, OTHER):
        plant_help_and_mails(app, address)
    with app.app_context():
        sub = db.session().scalar(select(Account.sub).where(Account.address == ANNA))
    assert _about(app, ANNA) == {"account": True, "sessions": 1, "tokens": 1, "help": 1,
                                 "unsent": 1, "sent": 1, "answers": 1}

    output = run(runner, "accounts", "delete", "--vhs", "straubing", "--email", ANNA, "--yes")

    assert f"deleted {ANNA} at straubing: 1 sessions, 1 tokens, 1 help requests, 2 mails, " \
           "1 answers of the program" in output
    assert _about(app, ANNA) == {"account": False, "sessions": 0, "tokens": 0, "help": 0,
                                 "unsent": 0, "sent": 0, "answers": 0}
    assert _about(app, OTHER) == {"account": True, "sessions": 0, "tokens": 0, "help": 1,
                                  "unsent": 1, "sent": 1, "answers": 1}
    client = app.test_client()
    answer = client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    with app.app_context():
        session = db.session()
        notices = session.scalars(select(LogoutDelivery)).all()
        assert [(notice.client_id, notice.sub) for notice in notices] == [("vhskoop", sub)]
        trail = session.scalars(select(AuditEvent).where(AuditEvent.who == sub)).all()
        kinds = [(event.kind, event.detail) for event in trail]
        assert ("login", None) in kinds  # what happened stays, under the pseudonym only
        assert ("admin", "accounts delete") in kinds
    # the address is free again: a new account gets a new sub
    run(runner, "accounts", "add", "--vhs", "straubing", "--email", ANNA, "--password-stdin",
        input=PASSWORD + "\n")
    with app.app_context():
        assert db.session().scalar(select(Account.sub).where(Account.address == ANNA)) != sub


def test_accounts_delete_asks_first_and_a_no_keeps_everything(app, tenant, runner):
    result = runner.invoke(args=["accounts", "delete", "--vhs", "straubing", "--email", ANNA],
                           input="n\n")
    assert result.exit_code == 1
    assert f"Delete {ANNA} at straubing and everything held about it?" in result.output
    assert _about(app, ANNA)["account"] is True
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.detail == "accounts delete")) == 0


def test_accounts_delete_names_an_unknown_address(app, tenant, runner):
    result = runner.invoke(args=["accounts", "delete", "--vhs", "straubing", "--email",
                                 "niemand@vhs-straubing.de", "--yes"])
    assert result.exit_code != 0
    assert "niemand@vhs-straubing.de" in result.output


def test_a_person_deletes_their_own_account_after_a_fresh_sign_in(app, tenant):
    client = app.test_client()
    assert post_login(client).status_code == 303
    sub = account_of(app, ANNA).sub
    assert "Zugang löschen" in client.get("/account").get_data(as_text=True)
    page = client.get("/account/delete").get_data(as_text=True)
    assert "Zugang endgültig löschen" in page and "Sie werden bei allen Diensten abgemeldet" in page

    assert client.post("/account/delete", data={}).status_code == 400  # no CSRF token
    assert account_of(app, ANNA) is not None

    answer = client.post("/account/delete", data={"csrf_token": form_field(page, "csrf_token")})
    assert answer.status_code == 200
    assert "Ihr Zugang ist gelöscht" in answer.get_data(as_text=True)
    assert any(c.startswith("idp_sso=;") for c in answer.headers.getlist("Set-Cookie"))
    assert account_of(app, ANNA) is None
    with app.app_context():
        events = db.session().scalars(select(AuditEvent).where(
            AuditEvent.kind == "account_deleted")).all()
        assert [(event.who, event.detail) for event in events] == [(sub, "by the person")]
    assert client.get("/account").headers["Location"].startswith("/login")


def test_deleting_needs_a_sign_in_of_the_last_five_minutes(app, tenant):
    client = app.test_client()
    post_login(client)
    page = client.get("/account/delete").get_data(as_text=True)
    with app.app_context():
        db.session().execute(update(SsoSession).values(auth_time=SsoSession.auth_time - 301))
        db.session().commit()
    for answer in (client.get("/account/delete"), client.post(
            "/account/delete", data={"csrf_token": form_field(page, "csrf_token")})):
        assert answer.status_code == 303
        assert answer.headers["Location"].startswith("/login?next=")
    login = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Bitte melden Sie sich noch einmal an, um Ihren Zugang zu löschen." in login
    assert account_of(app, ANNA) is not None


def test_deleting_needs_the_second_factor_where_the_person_has_one(app, tenant):
    client = app.test_client()
    post_login(client)  # signed in with the password only; the factor comes after
    give_totp(app, ANNA)
    answer = client.get("/account/delete")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/login")
    assert account_of(app, ANNA) is not None
