"""Operations: /healthz, /readyz, /metrics, request ids and JSON logs, and what is answered
in front of Flask (the documents and userinfo's successes) being the same as Flask's."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets as random
import time
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.test import EnvironBuilder, run_wsgi_app

from idp import create_app, db, logs, mail
from idp.cli import runner as cli_runner
from idp.models import AuditEvent, Vhs

from ..helpers import PASSWORD, form_field, login_form, post_login, run, secret

CALLBACK = "http://127.0.0.1:9/cb"


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready", "checks": {"database": "ok", "keys": "ok"}}


def test_readyz_is_503_on_a_database_behind_the_code(key_template, tmp_path):
    app = create_app({"ENV": "production", "SECRET_KEY": "s" * 40, "KEYS_DIR": str(key_template),
                      "DATABASE_URL": f"sqlite:///{tmp_path}/never-migrated.sqlite3"})
    answer = app.test_client().get("/readyz")
    db.engine(app).dispose()
    assert answer.status_code == 503
    assert answer.get_json()["checks"]["database"].startswith("schema behind")
    assert answer.get_json()["checks"]["keys"] == "ok"


def test_metrics_count_logins_and_tokens_and_are_not_open_to_the_world(app, client, runner):
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
    before = client.get("/metrics").get_data(as_text=True)
    assert post_login(client).status_code == 303
    assert post_login(client, password="falsch-falsch-falsch").status_code == 401
    after = client.get("/metrics")
    assert after.status_code == 200 and after.mimetype == "text/plain"
    text = after.get_data(as_text=True)
    for line in ('idp_logins_total{outcome="ok",source="local"}',
                 'idp_logins_total{outcome="wrong_password",source="local"}'):
        assert _value(text, line) == _value(before, line) + 1, line
    assert "idp_outbox_depth 0.0" in text
    assert ('idp_request_seconds_count{endpoint="views.login_submit",method="POST",'
            'status="3xx"}') in text
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 404
    # a reverse proxy on this machine passing a visitor on is not a local scraper
    assert client.get("/metrics", headers={"X-Forwarded-For": "192.0.2.7"}).status_code == 404
    assert client.open("/metrics", method="BREW").status_code == 405
    assert 'method="BREW"' not in client.get("/metrics").get_data(as_text=True)


def test_metrics_with_a_token_answer_only_to_it(make_app):
    client = make_app(METRICS_TOKEN="m" * 24).test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    answer = client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 24},
                        environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert answer.status_code == 200 and b"idp_tokens_issued_total" in answer.data


def _value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_request_ids_are_kept_or_made_and_reach_json_log_lines(app, client):
    assert client.get("/healthz", headers={"X-Request-Id": "lb-4711.a"}
                      ).headers["X-Request-Id"] == "lb-4711.a"
    made = client.get("/healthz", headers={"X-Request-Id": "<script>"}).headers["X-Request-Id"]
    assert made != "<script>" and len(made) == 16
    formatter, context = logs.JsonFormatter(), logs.RequestContext()
    with app.test_request_context("/login", headers={"X-Request-Id": "abc-1"}):
        app.preprocess_request()
        logs.tag_vhs("straubing")
        record = logging.LogRecord("idp", logging.INFO, __file__, 1, "audit %s", ("login",), None)
        context.filter(record)
        line = json.loads(formatter.format(record))
    assert line["message"] == "audit login" and line["level"] == "info"
    assert line["request_id"] == "abc-1" and line["vhs"] == "straubing"
    assert line["path"] == "/login" and line["method"] == "GET"


def _answer(wsgi, path, **headers):
    builder = EnvironBuilder(path=path, base_url="http://127.0.0.1:5000", headers=headers)
    body, status, answered = run_wsgi_app(wsgi, builder.get_environ())
    content = b"".join(body)
    getattr(body, "close", lambda: None)()
    kept = {k: re.sub(r"'nonce-[^']+'", "'nonce'", v) for k, v in answered.items()
            if k != "X-Request-Id"}  # a page's CSP nonce is new for every answer
    if "Date" in kept:  # a current HTTP date; two answers may straddle a second
        assert abs(parsedate_to_datetime(kept["Date"]).timestamp() - time.time()) < 5
        kept["Date"] = "(now)"
    return status, kept, content


def access_token(client, runner) -> str:
    """Anna's access token for a first-party client, by a code flow in the test client."""
    client_secret = secret(random.token_urlsafe(32))
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--name", "Anna", "--password-stdin",
        input=PASSWORD + "\n")
    run(runner, "clients", "add", "rp", "--secret", client_secret, "--redirect-uri", CALLBACK,
        "--grant", "authorization_code", "--scope", "openid email", "--first-party")
    verifier = random.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    login = client.get("/authorize", query_string={
        "client_id": "rp", "response_type": "code", "scope": "openid email",
        "redirect_uri": CALLBACK, "code_challenge": challenge,
        "code_challenge_method": "S256"}).headers["Location"]
    page = client.get(login).get_data(as_text=True)
    signed_in = client.post("/login", data={
        "csrf_token": form_field(page, "csrf_token"), "next": form_field(page, "next"),
        "tenant": "straubing", "email": "anna.muster@vhs-straubing.de", "password": PASSWORD})
    callback = client.get(signed_in.headers["Location"]).headers["Location"]
    code = secret(parse_qs(urlsplit(callback).query)["code"][0])
    answer = client.post("/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": verifier}, auth=("rp", client_secret))
    return secret(answer.get_json()["access_token"])


def test_userinfo_in_front_answers_exactly_what_flask_answers(app, client, runner):
    access = access_token(client, runner)
    front, flask = app.wsgi_app, app.wsgi_app.inner
    bearer = {"Authorization": f"Bearer {access}"}
    first = _answer(front, "/userinfo", **bearer)  # goes to Flask; its headers are learned
    assert first[0] == "200 OK"
    assert _answer(front, "/userinfo", **bearer) == _answer(flask, "/userinfo", **bearer) == first
    for refused in ({"Authorization": "Bearer unknown-token"}, {},
                    {"Authorization": "Basic eDp5"}):
        assert _answer(front, "/userinfo", **refused) == _answer(flask, "/userinfo", **refused)
    assert _answer(front, "/userinfo", **{**bearer, "X-Odd": "a\x01b"})[0].startswith("400")


def test_documents_in_front_are_flasks_and_answer_304(app):
    front, flask = app.wsgi_app, app.wsgi_app.inner
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        answered = _answer(front, path)
        assert answered == _answer(flask, path)
        etag = answered[1]["ETag"]
        status, headers, body = _answer(front, path, **{"If-None-Match": etag})
        assert status == "304 Not Modified" and body == b"" and headers["ETag"] == etag


def test_readyz_writes_no_log_lines(client, caplog):
    with caplog.at_level(logging.DEBUG):
        for _ in range(5):
            assert client.get("/readyz").status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []


def test_the_mail_worker_logs_json_a_line_per_delivery(key_template, smtp, tmp_path):
    """``vhskoop-idp mail-worker`` in a process of its own, as cron or systemd runs it."""
    import subprocess
    import sys
    from pathlib import Path

    from idp.audit import address_tag

    from ..helpers import SECRET, clean_environment

    settings = {"SECRET_KEY": SECRET, "KEYS_DIR": str(key_template),
                "DATABASE_URL": f"sqlite:///{tmp_path}/idp.sqlite3"}
    app = create_app(settings)
    db.upgrade(app)
    run(cli_runner(app), "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    run(cli_runner(app), "vhs", "set-mail", "straubing", "--host", "127.0.0.1", "--port",
        str(smtp.port), "--security", "none", "--sender", "info@vhs-straubing.de")
    address = "anna.muster@vhs-straubing.de"
    with app.app_context():
        row = mail.enqueue(db.session().scalar(select(Vhs)), address, "test", "Test")
        db.session().commit()
        message_id = row.message_id
    db.engine(app).dispose()
    env = {**clean_environment(), **{f"IDP_{k}": v for k, v in settings.items()}}
    result = subprocess.run([str(Path(sys.executable).parent / "vhskoop-idp"), "mail-worker",
                             "--once"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # every line JSON
    [delivery] = [line for line in lines if "delivered to" in line["message"]]
    with app.app_context():
        assert address_tag("straubing", address) in delivery["message"]
    assert message_id in delivery["message"] and "attempt 1" in delivery["message"]
    assert address not in result.stderr
    assert [m["To"] for m in smtp.messages] == [address]


@pytest.mark.parametrize(("proxies", "seen"), [(0, "127.0.0.1"), (1, "203.0.113.5")])
def test_x_forwarded_for_is_believed_only_from_the_configured_proxies(make_app, tenant,
                                                                      proxies, seen):
    """The client address of the throttle, the rate limits and the audit trail: the proxy's
    X-Forwarded-For with IDP_PROXIES=1, the connection's address without."""
    app = make_app(PROXIES=proxies)
    client = app.test_client()
    _, data = login_form(client)
    data.update(tenant="straubing", email="anna.muster@vhs-straubing.de", password="falsch")
    answer = client.post("/login", data=data, headers={"X-Forwarded-For": "203.0.113.5"},
                         environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert answer.status_code == 401
    with app.app_context():
        [event] = db.session().scalars(select(AuditEvent).where(
            AuditEvent.kind == "login_failed")).all()
    assert event.ip == seen
