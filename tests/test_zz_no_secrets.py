"""No password, token, code, secret or cookie value ever reaches a log line or the audit
trail. This test runs the flows once and checks every log record and audit row its process
has seen so far, so that it can fail even when run alone. The whole run is checked as well,
after the last test: each pytest-xdist worker scans everything it logged and audited
against every secret it used, and the run fails on any leak (tests/conftest.py,
``pytest_sessionfinish``)."""

from __future__ import annotations

from sqlalchemy import select

from idp import db
from idp.models import AuditEvent

from .helpers import AUDITED, LOGGED, SECRETS, RelyingParty, add_client, leaks, post_login, sign_in


def test_no_secret_reaches_a_log_line_or_the_audit_trail(live, browser):
    secret = add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", secret)
    token = rp.fetch_token(sign_in(live, browser, rp))
    rp.refresh(token["refresh_token"])
    post_login(live.app.test_client(), password="ein-falsches-Kennwort")
    with live.app.app_context():
        rows = [str(vars(row)) for row in db.session().scalars(select(AuditEvent))]
    assert len(SECRETS) > 5 and len(LOGGED) > 10 and rows
    assert leaks([*LOGGED, *AUDITED, *rows], SECRETS) == []
