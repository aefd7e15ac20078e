"""Fixtures: a migrated database (SQLite, or PostgreSQL via IDP_TEST_DATABASE_URL), the app,
its test client and CLI runner, a live HTTP server on loopback, and small action helpers.

The whole suite runs on both databases. With IDP_TEST_DATABASE_URL set, an unreachable
server fails the run at once: it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from idp import create_app, db
from idp.models import Base
from keys import KeyStore, Policy

from .helpers import Browser

pytest_plugins = ("tests.worlds",)

SECRET = "test-secret-key-that-is-long-enough-0123456789"
PASSWORD = "richtig-langes-Passwort-1"


def pytest_report_header(config):
    url = os.environ.get("IDP_TEST_DATABASE_URL")
    return f"database: {url or 'SQLite (temporary file)'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A database at the newest migration, empty; dropped and migrated once per run."""
    url = os.environ.get("IDP_TEST_DATABASE_URL")
    if not url:
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # the PostgreSQL run must fail, not skip
        pytest.exit(f"IDP_TEST_DATABASE_URL={url} is unreachable: {error}", returncode=3)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def key_template(tmp_path_factory):
    """A generated keyring, copied for each app (RSA 3072 generation takes a while)."""
    path = tmp_path_factory.mktemp("keys-template")
    KeyStore(path).ensure(int(time.time()), Policy(retain_seconds=900))
    return path


@pytest.fixture(scope="session")
def migrated(database_url, tmp_path_factory):
    """Run the Alembic migrations once per test session."""
    app = create_app(_settings(database_url, tmp_path_factory.mktemp("migrate")))
    db.upgrade(app)
    db.engine(app).dispose()
    return database_url


def _settings(database_url, keys_dir, **extra):
    settings = {
        "ENV": "production",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "KEYS_DIR": str(keys_dir),
        "ARGON2_MEMORY_COST": 8192,
        "ARGON2_TIME_COST": 2,
        "SELFSERVICE_ANSWER_SECONDS": 0,  # bench/access_timing.py measures the real one
    }
    settings.update(extra)
    return settings


def _empty_tables(app):
    with db.engine(app).begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def make_app(migrated, key_template, tmp_path):
    """Build an app on the shared test database with its own copy of the keys."""
    built = []

    def make(**extra):
        keys_dir = tmp_path / f"keys{len(built)}"
        if not keys_dir.exists():
            shutil.copytree(key_template, keys_dir)
        app = create_app(_settings(migrated, keys_dir, **extra))
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield make
    for app in built:
        _empty_tables(app)
        db.engine(app).dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def tenant(runner):
    """An onboarded VHS and an active local account in it; returns (slug, address)."""
    result = runner.invoke(args=["vhs", "add", "straubing", "--name", "vhs Straubing",
                                 "--onboarded"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=["accounts", "add", "--vhs", "straubing", "--email", "Anna.Muster@vhs-straubing.de",
              "--name", "Anna Muster", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    return "straubing", "anna.muster@vhs-straubing.de"


def require_service(name: str, error: Exception):
    """Locally a missing service skips with the reason; in CI it fails."""
    message = f"{name} is not reachable: {error}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must provide it)")
    pytest.skip(message)


@pytest.fixture
def redis_url():
    """Redis on 127.0.0.1:6379, database 15, emptied before and after the test."""
    import redis

    url = os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    connection = redis.Redis.from_url(url, socket_timeout=2)
    try:
        connection.flushdb()
    except redis.RedisError as error:
        require_service("Redis", error)
    yield url
    connection.flushdb()
    connection.close()


class MailServer:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self):
        self.messages = []
        self.port = _free_port()
        self.controller = None

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def start(self):
        """Listen (again) on the same port."""
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        """Stop listening: the mail server is down."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address):
        return [m for m in self.messages if m["To"] == address]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    """The VHS's mail server, running; stopped after the test."""
    server = MailServer()
    server.start()
    yield server
    server.stop()


class LiveServer:
    """The provider on a real HTTP server on 127.0.0.1 with a free port."""

    def __init__(self, make_app, host_name="127.0.0.1", **settings):
        holder = {}
        self.server = make_server("127.0.0.1", 0, lambda e, s: holder["app"](e, s),
                                  threaded=True)
        # Another host name keeps two providers' cookies apart in one test browser.
        self.url = f"http://{host_name}:{self.server.server_port}"
        self.app = make_app(ISSUER=self.url, **settings)
        holder["app"] = self.app
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def cli(self, *args, input=None):
        result = self.app.test_cli_runner().invoke(args=list(args), input=input)
        assert result.exit_code == 0, result.output
        return result.output


@pytest.fixture
def live(make_app):
    """A running provider with an onboarded VHS and one account."""
    server = LiveServer(make_app)
    server.cli("vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    server.cli("accounts", "add", "--vhs", "straubing", "--email", "anna.muster@vhs-straubing.de",
               "--name", "Anna Muster", "--password-stdin", input=PASSWORD + "\n")
    yield server
    server.stop()


@pytest.fixture
def browser(live):
    """A person's browser (cookies kept) against the live provider."""
    return Browser(live.url)
