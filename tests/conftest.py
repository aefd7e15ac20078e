"""Fixtures: the app on this worker's migrated database (SQLite, or PostgreSQL via
IDP_TEST_DATABASE_URL: tests/databases.py), its test client and CLI runner, a live HTTP
server on loopback, and small action helpers; the order the tests are handed out in; the
scan for leaked secrets after the last test.

The whole suite runs on both databases. With IDP_TEST_DATABASE_URL set, an unreachable
server fails the run at once: it is never skipped.
"""

from __future__ import annotations

import json
import logging
import os
import shutil

import pytest
from jinja2 import BytecodeCache
from sqlalchemy import create_engine, text
from werkzeug.routing import Rule

from idp import create_app, db
from idp.cli import runner as cli_runner
from idp.models import AuditEvent, Base

from .helpers import (
    AUDITED,
    LOGGED,
    NOT_SCANNED,
    PASSWORD,
    SECRET,
    SECRETS,
    Browser,
    Capture,
    LiveServer,
    MailServer,
    TcpProxy,
    app_settings,
    leaks,
    own_name,
    require_service,
    secret,
)

pytest_plugins = ("tests.databases", "tests.worlds")


# The PostgreSQL server of their own that these fixtures use is the same in either run.
OWN_POSTGRES = {"postgres_proxy", "postgres_faults_url"}
# The longest tests start first, so that no worker is left with one of them at the end; of
# the installed wheel's tests one starts first and builds the environment, the others come
# later (they would only wait for it).
FIRST = ("tests/test_installed.py::test_the_installed_package_serves_every_page",
         "tests/browser/test_console.py", "tests/idp/test_instances.py",
         "tests/idp/test_hostile_input.py", "tests/browser/", "tests/test_installed.py")


def pytest_collection_modifyitems(config, items):
    """Mark the tests on a PostgreSQL server of their own ``once``; longest first."""
    for item in items:
        if OWN_POSTGRES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.once)

    def rank(item):
        return next((i for i, start in enumerate(FIRST) if item.nodeid.startswith(start)),
                    len(FIRST))

    items.sort(key=rank)  # stable: the order within each rank stays


def pytest_report_header(config):
    url = os.environ.get("IDP_TEST_RUN_DATABASE_URL") or os.environ.get("IDP_TEST_DATABASE_URL")
    return f"database: {url or 'SQLite (a temporary file per worker)'}"


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
    for name in NOT_SCANNED:
        logging.getLogger(name).setLevel(logging.INFO)
    secret(PASSWORD)
    secret(SECRET)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def pytest_sessionfinish(session):
    """After the last test: this process's whole record (every log line, every audit row)
    against every secret it used. A worker hands its findings to the controller; a run
    without xdist, or the controller, fails on any leak."""
    found = leaks([*LOGGED, *AUDITED], SECRETS) if SECRETS else []
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["secret_leaks"] = json.dumps(found)
        workeroutput["secret_scan"] = json.dumps([len(LOGGED), len(AUDITED), len(SECRETS)])
        return
    found += [tuple(leak) for leak in WORKER_LEAKS]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and SCANNED:
        lines, rows, secrets = (sum(counts) for counts in zip(*SCANNED, strict=True))
        reporter.write_line(f"secret scan: {lines} log lines and {rows} audit rows of "
                            f"{len(SCANNED)} workers against {secrets} secrets")
    if found:
        if reporter is not None:
            for value, line in found:
                reporter.write_line(f"SECRET LEAKED: {value[:4]}... in: {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


WORKER_LEAKS: list = []
SCANNED: list = []


def pytest_testnodedown(node, error):
    """The controller collects each worker's secret scan."""
    output = getattr(node, "workeroutput", {})
    if "secret_scan" not in output:
        return
    WORKER_LEAKS.extend(json.loads(output["secret_leaks"]))
    SCANNED.append(json.loads(output["secret_scan"]))


class CompiledTemplates(BytecodeCache):
    """The templates compiled once per worker and shared by every test's app (each app
    would compile them anew); keyed by Jinja on the template's name and source."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = CompiledTemplates()


def _url_builders_made_once():
    """Werkzeug compiles two URL-building functions for each of the app's ~100 routes when
    an app is made (about 30 ms, a tenth of the suite's Python time: an app per test). A
    builder is the same function for the same rule parts and defaults in the path (it reaches
    the rule's converters through ``self`` when called), so each is compiled once per worker."""
    compile_builder, made = Rule._compile_builder, {}

    def compiled_once(self, append_unknown=True):
        folded = sorted((name, self._converters[name].to_url(value))  # defaults in the path
                        for name, value in (self.defaults or {}).items()
                        if name in self._converters)
        key = (tuple(self._trace), tuple(folded), append_unknown)
        if key not in made:
            made[key] = compile_builder(self, append_unknown)
        return made[key]

    Rule._compile_builder = compiled_once


_url_builders_made_once()


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
        app = create_app(app_settings(migrated, keys_dir, **extra))
        app.config["TESTING"] = True
        app.jinja_env.bytecode_cache = TEMPLATES
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
    """A PostgreSQL database of its own (``idp_faults_<worker>``) at the newest migration,
    for the tests that break the connection to it; in both CI runs, also the SQLite one."""
    import psycopg

    server = os.environ.get("IDP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    name = own_name("idp_faults")
    try:
        with psycopg.connect(server + "/postgres", autocommit=True, connect_timeout=5) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                 (name,)).fetchone():
                admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as error:
        require_service("PostgreSQL", error)
    url = server.replace("postgresql://", "postgresql+psycopg://") + "/" + name
    engine = create_engine(url)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    app = create_app(app_settings(url, tmp_path_factory.mktemp("faults-migrate")))
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
