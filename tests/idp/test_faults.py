"""Faults: the database gone, hung or back; start-up with what cannot work; the mail
worker through an SMTP outage; itm:PORTAL gone for a VHS with local accounts."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from idp import create_app, db, mail, worker
from idp.cli import runner as cli_runner
from idp.models import Account, AuditEvent, OutboxMail, Vhs

from ..helpers import PASSWORD, SECRET, TcpProxy, deliver, post_login, queue_mails, run, submit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def behind_proxy(postgres_proxy, key_template, tmp_path):
    """The provider on PostgreSQL through a proxy that can cut or freeze the connection."""
    direct, proxy = postgres_proxy
    keys = tmp_path / "keys"
    shutil.copytree(key_template, keys)
    app = create_app({"ENV": "production", "SECRET_KEY": SECRET, "KEYS_DIR": str(keys),
                      "DATABASE_URL": proxy.url(direct.url), "DB_TIMEOUT_SECONDS": 2,
                      "ARGON2_MEMORY_COST": 8192, "ARGON2_TIME_COST": 2})
    run(cli_runner(app), "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    yield app, proxy
    db.engine(app).dispose()


def test_an_outage_is_a_503_logged_once_and_the_next_request_after_it_works(behind_proxy,
                                                                           caplog):
    app, proxy = behind_proxy
    client = app.test_client()
    assert post_login(client).status_code == 401  # no such account: the database answered
    proxy.cut()
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        # the login form itself needs no database (the VHS list is kept); signing in does
        pages = [post_login(client) for _ in range(10)]
        tokens = [client.post("/token", data={"grant_type": "client_credentials"},
                              auth=("x", "y" * 40)) for _ in range(10)]
    assert {page.status_code for page in pages} == {503}
    assert "gerade nicht erreichbar" in pages[0].get_data(as_text=True)
    assert pages[0].headers["Retry-After"] == "30"
    assert {answer.status_code for answer in tokens} == {503}
    assert tokens[0].json["error"] == "temporarily_unavailable"
    assert tokens[0].headers["Retry-After"] == "30"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "database unavailable" in errors[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)  # no tracebacks
    proxy.restore()
    assert post_login(client).status_code == 401  # no restart needed (pool pre-ping)
    assert any("database back" in r.getMessage() for r in caplog.records)


def test_a_hung_database_answers_503_in_time_and_discovery_does_not_wait(behind_proxy):
    app, proxy = behind_proxy
    client = app.test_client()
    assert client.get("/login").status_code == 200
    proxy.freeze()
    try:
        started = time.monotonic()
        assert client.get("/.well-known/openid-configuration").status_code == 200
        assert client.get("/jwks.json").status_code == 200
        # A wait on the database would take its 2 s; the documents take milliseconds, and
        # a loaded machine gets most of the difference as margin.
        assert time.monotonic() - started < 1.5
        started = time.monotonic()
        assert post_login(client).status_code == 503
        assert time.monotonic() - started < 2 + 1 + 1.5  # the budget, its second, a margin
    finally:
        proxy.thaw()
    assert post_login(client).status_code == 401


def start(environment: dict, code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(environment)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


def test_a_deadlock_is_a_conflict_answered_503_with_a_short_retry_not_an_outage(
        behind_proxy, caplog):
    """Two transactions locking two rows in opposite order: PostgreSQL kills one. That is
    a conflict to retry (Retry-After: 1), not the database gone (no outage is declared)."""
    import threading

    from idp.web.views import _database_unavailable

    app, _proxy = behind_proxy
    run(cli_runner(app), "vhs", "add", "passau", "--name", "vhs Passau", "--onboarded")
    barrier, failures = threading.Barrier(2), []

    def lock(first: str, second: str) -> None:
        with db.engine(app).connect() as connection:
            try:
                with connection.begin():
                    for index, slug in enumerate((first, second)):
                        connection.execute(update(Vhs).where(Vhs.slug == slug)
                                           .values(name=Vhs.name))
                        if index == 0:
                            barrier.wait()
            except db.UNAVAILABLE as error:
                failures.append(error)
    threads = [threading.Thread(target=lock, args=pair)
               for pair in (("straubing", "passau"), ("passau", "straubing"))]
    [thread.start() for thread in threads]
    [thread.join(30) for thread in threads]
    assert len(failures) == 1 and db.conflict(failures[0])
    with app.test_request_context("/token", method="POST"), \
            caplog.at_level(logging.WARNING, logger=app.logger.name):
        answer = app.make_response(_database_unavailable(failures[0]))
        assert db.outage().since is None
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert "transaction conflict on POST /token" in caplog.text
    assert "database unavailable" not in caplog.text


def test_start_up_with_an_unreachable_database_says_so_in_one_line(tmp_path):
    result = start({"IDP_SECRET_KEY": SECRET, "IDP_KEYS_DIR": str(tmp_path / "keys"),
                    "IDP_DATABASE_URL": "postgresql+psycopg://idp@127.0.0.1:9/idp",
                    "IDP_DB_TIMEOUT_SECONDS": "2"}, "import idp.wsgi")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "IDP_DATABASE_URL" in result.stderr and "cannot be reached" in result.stderr


def test_start_up_with_an_unusable_key_folder_says_so_in_one_line(tmp_path):
    url = f"sqlite:///{tmp_path}/idp.sqlite3"
    app = create_app({"SECRET_KEY": SECRET, "DATABASE_URL": url,
                      "KEYS_DIR": str(tmp_path / "k")})
    db.upgrade(app)
    (tmp_path / "not-a-folder").write_text("x")
    result = start({"IDP_SECRET_KEY": SECRET, "IDP_DATABASE_URL": url,
                    "IDP_KEYS_DIR": str(tmp_path / "not-a-folder" / "keys")}, "import idp.wsgi")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "IDP_KEYS_DIR" in result.stderr


def test_a_command_with_an_unreachable_database_says_so_in_one_line(tmp_path):
    result = start({"IDP_SECRET_KEY": SECRET, "IDP_KEYS_DIR": str(tmp_path / "keys"),
                    "IDP_DATABASE_URL": "postgresql+psycopg://idp@127.0.0.1:9/idp",
                    "IDP_DB_TIMEOUT_SECONDS": "2"},
                   "from idp.cli import main; main(['vhs', 'list'])")
    assert result.returncode == 2
    assert "IDP_DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def mail_vhs(app, runner, smtp, kufer_world, tmp_path):
    from ..helpers import write_config

    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded",
        "--adapter", "kufersql", "--adapter-config",
        write_config(tmp_path, url=kufer_world["url"], mandant="1"))
    run(runner, "vhs", "set-mail", "straubing", "--host", "127.0.0.1", "--port",
        str(smtp.port), "--security", "none", "--sender", "info@vhs-straubing.de")
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
    return app


def test_the_worker_exits_1_when_a_delivery_failed(mail_vhs, runner, smtp):
    submit(mail_vhs.test_client(), "/passwort-vergessen", "anna.muster@vhs-straubing.de")
    smtp.stop()
    result = runner.invoke(args=["mail-worker", "--once"])
    assert result.exit_code == 1 and "1 retried" in result.output
    smtp.start()
    mail_vhs.config["CLOCK"] = lambda: time.time() + 60  # the retry is due
    result = runner.invoke(args=["mail-worker", "--once"])
    assert result.exit_code == 0 and "1 delivered" in result.output


def test_a_link_mail_is_retried_every_5_minutes_and_not_sent_dead(mail_vhs, smtp):
    clock = [int(time.time())]
    mail_vhs.config["CLOCK"] = lambda: clock[0]
    submit(mail_vhs.test_client(), "/passwort-vergessen", "anna.muster@vhs-straubing.de")
    smtp.stop()
    delays = []
    for _ in range(12):  # 12 attempts: doubling from 30 s would reach 17 hours
        assert deliver(mail_vhs)["retried"] == 1
        with mail_vhs.app_context():
            row = db.session().scalar(select(OutboxMail))
            delays.append(row.next_attempt_at - clock[0])
            clock[0] = row.next_attempt_at
        if clock[0] > row.expires_at:
            break
    assert max(delays) == 300 and delays[:3] == [30, 60, 120]
    clock[0] += 3600  # the reset link (1 hour) has expired meanwhile
    smtp.start()
    assert deliver(mail_vhs)["failed"] == 1
    assert smtp.messages == []  # never sent dead
    with mail_vhs.app_context():
        assert "expired" in db.session().scalar(select(OutboxMail.last_error))


@pytest.fixture
def portal_vhs(app, runner):
    from argon2 import PasswordHasher

    from idp.dev.portal_sim import PortalSimulator

    users = [{"email": "portal@vhs-straubing.de", "id": "p-1", "name": "Paula Portal",
              "password_hash": PasswordHasher().hash("Portal-Kennwort-lang-genug")}]
    simulator = PortalSimulator(users, "portal-api-credential-0123456789").start()
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    run(runner, "vhs", "set-portal", "straubing", "--base-url", simulator.url,
        "--credential-stdin", input="portal-api-credential-0123456789\n")
    for address in ("anna.muster@vhs-straubing.de", "neu@vhs-straubing.de"):
        run(runner, "accounts", "add", "--vhs", "straubing", "--email", address,
            "--password-stdin", input=PASSWORD + "\n")
    yield simulator
    simulator.stop()


def test_a_portal_outage_does_not_lock_out_local_accounts_looked_up_recently(app, portal_vhs):
    client = app.test_client()
    assert post_login(client).status_code == 303  # the portal says: not mine
    portal_vhs.mode = "error"
    assert post_login(app.test_client()).status_code == 303  # local password, grace
    with app.app_context():
        assert db.session().scalar(select(AuditEvent.kind).where(
            AuditEvent.kind == "portal_fallback")) == "portal_fallback"
    # Never looked up (or too long ago), and the portal's own people: the clear refusal.
    assert post_login(app.test_client(), email="neu@vhs-straubing.de").status_code == 503
    assert post_login(app.test_client(), email="portal@vhs-straubing.de",
                      password="Portal-Kennwort-lang-genug").status_code == 503
    with app.app_context():
        db.session().execute(update(Account).values(portal_unknown_at=1))
        db.session().commit()
    assert post_login(app.test_client()).status_code == 503


def test_without_a_portal_grace_a_portal_outage_refuses_everyone(make_app, portal_vhs):
    app = make_app(PORTAL_GRACE_SECONDS=0)
    assert post_login(app.test_client()).status_code == 303
    portal_vhs.mode = "error"
    assert post_login(app.test_client()).status_code == 503


def _neutral(response) -> tuple[int, str]:
    """Status and page without what differs on purpose (token, nonces, the typed address)."""
    import re

    page = re.sub(r'name="csrf_token" type="hidden" value="[^"]*"|nonce="[^"]*"|nonce-[\w-]+',
                  "", response.get_data(as_text=True))
    return response.status_code, re.sub(r'value="[^"]*@vhs-straubing\.de"', "", page)


def test_during_a_portal_outage_only_the_right_password_tells(app, portal_vhs):
    """A wrong password for a local account that could fall back, an address nobody has,
    and the portal's own person: the same 503, the same words, one Argon2id verification
    each, and a refusal in the audit trail for each."""
    assert post_login(app.test_client()).status_code == 303  # the portal: not mine
    portal_vhs.mode = "error"
    tries = {"local, wrong password": ("anna.muster@vhs-straubing.de", "falsches-Passwort-1"),
             "unknown address": ("niemand@vhs-straubing.de", "falsches-Passwort-1"),
             "portal person": ("portal@vhs-straubing.de", "falsches-Passwort-1")}
    answers, seconds = {}, {}
    for name, (email, password) in tries.items():
        times = []
        for attempt in range(3):
            started = time.perf_counter()
            answer = post_login(app.test_client(), email=email, password=password,
                                ip=f"198.51.100.{attempt + 10 * len(answers)}")
            times.append(time.perf_counter() - started)
        answers[name], seconds[name] = _neutral(answer), sorted(times)[1]
    assert {status for status, _ in answers.values()} == {503}
    assert len({page for _, page in answers.values()}) == 1
    assert "gerade nicht erreichbar" in answers["unknown address"][1]
    # Each costs a password hash (8 MiB, 2 passes here): no address answers in a fraction
    # of another's time. Generous for a busy machine; bench/login_timing.py measures.
    assert max(seconds.values()) < 3 * min(seconds.values()), seconds
    with app.app_context():
        refusals = db.session().scalars(select(AuditEvent.reason).where(
            AuditEvent.kind == "login_failed")).all()
    assert refusals.count("portal_unavailable") == 9
    # The right password of the local account still signs in (the grace), and says so.
    assert post_login(app.test_client()).status_code == 303


class FreezingMailServer:
    """The VHS's mail server; the moment it accepts the first mail, the database freezes
    (for ``seconds``, longer than the worker's database timeout)."""

    def __init__(self, server, proxy: TcpProxy, seconds: float):
        self.server, self.proxy, self.seconds = server, proxy, seconds
        original = server.handle_DATA

        async def handle_data(smtp, session, envelope):
            answer = await original(smtp, session, envelope)
            if len(server.messages) == 1:
                proxy.freeze()
                threading.Timer(self.seconds, proxy.thaw).start()
            return answer
        server.handle_DATA = handle_data


def test_a_database_freeze_after_sending_does_not_send_the_mail_again(behind_proxy, smtp):
    app, proxy = behind_proxy
    clock = [int(time.time())]
    app.config["CLOCK"] = lambda: clock[0]
    recipients = queue_mails(app, cli_runner(app), smtp, 3, expires_at=clock[0] + 3600)
    FreezingMailServer(smtp, proxy, seconds=3)
    with app.app_context(), pytest.raises(db.UNAVAILABLE):
        worker.deliver_round()  # the first mail is sent, then the database hangs
    assert len(smtp.messages) == 1
    time.sleep(3.5)  # the database is back
    clock[0] += mail.LEASE_SECONDS + 1  # and the lease of the first mail has run out
    for _ in range(2):
        with app.app_context():
            worker.deliver_round()
    assert sorted(m["To"] for m in smtp.messages) == recipients  # each once
    with app.app_context():
        assert db.session().scalar(select(func.count(OutboxMail.id)).where(
            OutboxMail.delivered_at.is_(None))) == 0


def test_database_back_is_logged_by_the_first_query_that_succeeds(behind_proxy, caplog):
    app, proxy = behind_proxy
    client = app.test_client()
    assert client.get("/login").status_code == 200  # the VHS list is kept from here on
    proxy.cut()
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        assert post_login(client).status_code == 503
        proxy.restore()
        ready = client.get("/readyz")  # reads only: nothing to commit
    assert ready.status_code == 200
    [back] = [r for r in caplog.records if "database back" in r.getMessage()]
    assert back.levelno == logging.WARNING


def test_a_slow_database_is_waited_for_not_refused(postgres_proxy, key_template, tmp_path):
    """The only turn is held by a request waiting for a lock (a database that is slow, not
    hung): the next request is not refused but waits for its turn, because PostgreSQL
    still answers the SELECT 1 that the turns ask meanwhile. Both get their tokens."""
    direct, proxy = postgres_proxy
    keys = tmp_path / "keys"
    shutil.copytree(key_template, keys)
    app = create_app({"ENV": "production", "SECRET_KEY": SECRET, "KEYS_DIR": str(keys),
                      "DATABASE_URL": proxy.url(direct.url), "DB_TIMEOUT_SECONDS": 3,
                      "DB_CONCURRENT_REQUESTS": 1})
    secret = "a-client-secret-that-is-long-enough-0123456789"
    run(cli_runner(app), "clients", "add", "backend", "--grant", "client_credentials",
        "--secret", secret)
    answers = {}

    def token(name: str) -> None:
        answers[name] = app.test_client().post(
            "/token", data={"grant_type": "client_credentials"}, auth=("backend", secret))
    with direct.connect() as locker:
        locker.execute(text("LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE"))
        first = threading.Thread(target=token, args=("first",))
        first.start()
        time.sleep(0.3)
        second = threading.Thread(target=token, args=("second",))
        second.start()
        time.sleep(1.2)  # both wait: the first on the lock, the second for the turn
        locker.rollback()
    first.join(10)
    second.join(10)
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "first": 200, "second": 200}
    db.engine(app).dispose()
