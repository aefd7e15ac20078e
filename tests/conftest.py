"""Fixtures: a migrated database (SQLite, or PostgreSQL via IDP_TEST_DATABASE_URL), the app,
its test client and CLI runner, a live HTTP server on loopback, and small action helpers.

The whole suite runs on both databases. With IDP_TEST_DATABASE_URL set, an unreachable
server fails the run at once: it is never skipped.
"""

from __future__ import annotations

import logging
import os
import shutil
import time

import pytest
from sqlalchemy import create_engine, text

from idp import create_app, db
from idp.cli import runner as cli_runner
from idp.models import AuditEvent, Base
from keys import KeyStore, Policy

from .helpers import (
    AUDITED,
    PASSWORD,
    SECRET,
    Browser,
    Capture,
    LiveServer,
    MailServer,
    TcpProxy,
    require_service,
    secret,
)

pytest_plugins = ("tests.worlds",)



def pytest_report_header(config):
    url = os.environ.get("IDP_TEST_DATABASE_URL")
    return f"database: {url or 'SQLite (temporary file)'}"


@pytest.fixture(scope="session", autouse=True)
def captured_logs():
    """Every log record of the session, down to DEBUG, for the test that no secret was
    ever logged (tests/test_zz_no_secrets.py)."""
    handler = Capture(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    secret(PASSWORD)
    secret(SECRET)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


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
        AUDITED.extend(str(row._mapping) for row in connection.execute(
            AuditEvent.__table__.select()))
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
    return cli_runner(app)


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


@pytest.fixture
def smtp():
    """The VHS's mail server, running; stopped after the test."""
    server = MailServer()
    server.start()
    yield server
    server.stop()


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


@pytest.fixture(scope="session")
def postgres_faults_url(tmp_path_factory):
    """A PostgreSQL database of its own (``idp_faults``) at the newest migration, for the
    tests that break the connection to it; in both CI runs, also the SQLite one."""
    import psycopg

    server = os.environ.get("IDP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    try:
        with psycopg.connect(server + "/postgres", autocommit=True, connect_timeout=5) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = 'idp_faults'"
                                 ).fetchone():
                admin.execute("CREATE DATABASE idp_faults")
    except psycopg.Error as error:
        require_service("PostgreSQL", error)
    url = server.replace("postgresql://", "postgresql+psycopg://") + "/idp_faults"
    engine = create_engine(url)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    app = create_app(_settings(url, tmp_path_factory.mktemp("faults-migrate")))
    db.upgrade(app)
    db.engine(app).dispose()
    return url


@pytest.fixture
def postgres_proxy(postgres_faults_url):
    """The faults database behind a TCP proxy that can cut or freeze the connection:
    (an engine on the real server, the proxy); the tables are emptied afterwards."""
    direct = create_engine(postgres_faults_url)
    proxy = TcpProxy("127.0.0.1", direct.url.port or 5432)
    yield direct, proxy
    proxy.stop()
    with direct.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    direct.dispose()
