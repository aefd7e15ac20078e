"""No password, token, code, secret or cookie value ever reaches a log line or the audit
trail. Runs last (its name): it checks every log record and audit row of the whole run,
after a round of the flows of its own, so that it can fail even when run alone."""

from __future__ import annotations

from sqlalchemy import select

from idp import db
from idp.models import AuditEvent

from .helpers import AUDITED, LOGGED, SECRETS, RelyingParty, add_client, post_login, sign_in


def test_no_secret_reaches_a_log_line_or_the_audit_trail(live, browser):
    secret = add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", secret)
    token = rp.fetch_token(sign_in(live, browser, rp))
    rp.refresh(token["refresh_token"])
    post_login(live.app.test_client(), password="ein-falsches-Kennwort")
    with live.app.app_context():
        rows = [str(vars(row)) for row in db.session().scalars(select(AuditEvent))]
    assert len(SECRETS) > 5 and len(LOGGED) > 10 and rows
    # Not the provider's: urllib3's DEBUG lines are the requests of the tests' own HTTP
    # clients (the browser, relying parties), whose URLs carry codes by design; mail.log
    # is aiosmtpd's, the VHS's mail server receiving the mail with the link.
    lines = [line for line in LOGGED if not line.startswith(("DEBUG urllib3.",
                                                             "DEBUG mail.log"))]
    leaks = [(value, line[:300]) for line in [*lines, *AUDITED, *rows] for value in SECRETS
             if value in line]
    assert leaks == []
