"""After a deletion, the person is forgotten: a scan of every table finds nothing that holds
the account's id, address, name or ``sub`` (the audit's pseudonymous events and the
back-channel notices, which carry only the ``sub``, aside), both services are told, the
old password gets the answer of an unknown address, and "Neuer Zugang" makes a new account.
The same for the person's own deletion, the console's and the command's."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import String, Text, func, or_, select

from idp import db
from idp.models import Account, AuditEvent, Base, Consent, LogoutDelivery, Passkey

from ..helpers import (
    FLOW_CALLBACK,
    account_of,
    code_flow,
    form_field,
    give_totp,
    plant_help_and_mails,
    post_login,
    run,
    second_step,
    submit,
    totp_code,
)
from .test_console import ANNA, DORA, act, signed_in, world  # noqa: F401 - the fixture

SECRETS = {"vhskoop": "forget-test-secret-vhskoop-0123456789abcdef",
           "feedback": "forget-test-secret-feedback-0123456789abcdef"}
NAME = "Dora Beispiel"
PSEUDONYMOUS = ("audit_events", "logout_deliveries")  # the sub only; checked apart


def _holding(app, account_id: int, values: tuple[str, ...]) -> set[tuple[str, str]]:
    """Each (table, column) with a row that holds the account's id or one of ``values``."""
    found = set()
    with app.app_context():
        session = db.session()
        for table in Base.metadata.sorted_tables:
            if table.name in PSEUDONYMOUS:
                continue
            for column in table.columns:
                if column.name == "account_id" or (table.name == "accounts"
                                                   and column.name == "id"):
                    where = column == account_id
                elif isinstance(column.type, (String, Text)):
                    where = or_(*(column.contains(value, autoescape=True) for value in values))
                else:
                    continue
                if session.scalar(select(func.count()).select_from(table).where(where)):
                    found.add((table.name, column.name))
    return found


def _refusal(response) -> str:
    """What a refused sign-in says, the typed address left out."""
    text = response.get_data(as_text=True)
    summary = re.search(r'<div class="error-summary".*?</div>', text, re.S)
    return summary.group(0) if summary else ""


def _rich_account(app, runner) -> tuple[Account, object]:
    """Dora with sessions and tokens at two services, a consent, an authenticator app, a
    passkey, a help request and mails; her browser, signed in with both factors."""
    for client_id, first_party in (("vhskoop", True), ("feedback", False)):
        run(runner, "clients", "add", client_id, "--secret", SECRETS[client_id],
            "--redirect-uri", FLOW_CALLBACK, "--scope", "openid profile email",
            "--backchannel-logout-uri", f"https://{client_id}.example/backchannel",
            *(("--first-party",) if first_party else ()))
    dora = account_of(app, DORA)
    with app.app_context():
        db.session().get(Account, dora.id).display_name = NAME
        db.session().add(Consent(account_id=dora.id, client_id="feedback",
                                 scope="openid profile email"))
        db.session().add(Passkey(account_id=dora.id, credential_id="dora-key",
                                 public_key=b"\x01", name="Laptop"))
        db.session().commit()
    key = give_totp(app, DORA)
    plant_help_and_mails(app, DORA, answer=False)
    browser = app.test_client()
    assert post_login(browser, email=DORA).headers["Location"] == "/login/zweiter-schritt"
    assert second_step(browser, totp_code(app, DORA, key)).status_code == 303
    for client_id in SECRETS:
        code_flow(browser, client_id, SECRETS[client_id], DORA)
    return account_of(app, DORA), browser


def _delete_by_person(app, runner, browser) -> None:
    page = browser.get("/account/delete")
    assert page.status_code == 200, page.headers.get("Location")
    answer = browser.post("/account/delete", data={
        "csrf_token": form_field(page.get_data(as_text=True), "csrf_token")})
    assert answer.status_code == 200


def _delete_in_the_console(app, runner, browser) -> None:
    admin = signed_in(app, ANNA)
    page = f"/admin/vhs/straubing/people/{account_of(app, DORA).id}"
    assert act(admin, page, f"{page}/delete", confirmed="1", reason="asked_by_person"
               ).status_code == 303


def _delete_by_command(app, runner, browser) -> None:
    run(runner, "accounts", "delete", "--vhs", "straubing", "--email", DORA, "--yes")


@pytest.mark.parametrize("delete", [_delete_by_person, _delete_in_the_console,
                                    _delete_by_command], ids=["person", "console", "command"])
def test_after_a_deletion_no_table_holds_the_person(app, runner, world, delete):  # noqa: F811
    dora, browser = _rich_account(app, runner)
    values = (dora.address, NAME, dora.sub)
    before = {table for table, _ in _holding(app, dora.id, values)}
    assert {"accounts", "sso_sessions", "tokens", "authorization_codes", "consents",
            "totp_factors", "passkeys", "recovery_codes", "help_requests", "outbox",
            "eligibility_checks"} <= before  # the scan sees each kind of row

    delete(app, runner, browser)

    assert _holding(app, dora.id, values) == set()
    with app.app_context():
        session = db.session()
        notices = session.execute(select(LogoutDelivery.client_id, LogoutDelivery.sub)).all()
        assert sorted(notices) == [("feedback", dora.sub), ("vhskoop", dora.sub)]
        for column in (AuditEvent.detail, AuditEvent.actor, AuditEvent.who):
            assert not session.scalar(select(func.count()).select_from(AuditEvent).where(
                or_(column.contains(DORA), column.contains(NAME))))
        kinds = set(session.scalars(select(AuditEvent.kind).where(AuditEvent.who == dora.sub)))
        assert "login" in kinds  # what happened stays, under the sub only

    old = post_login(app.test_client(), email=DORA)
    unknown = post_login(app.test_client(), email="niemand@vhs-straubing.de")
    assert old.status_code == unknown.status_code == 401
    assert _refusal(old) and _refusal(old) == _refusal(unknown)

    assert submit(app.test_client(), "/neuer-zugang", DORA).status_code == 200
    again = account_of(app, DORA)
    assert again is not None and again.sub != dora.sub and again.status == "pending"
