"""The database: one engine per app, one session per request, one transaction boundary.

The edge owns the transaction: a request commits once, after its view answered and before
the answer leaves (``after_request``), so a client never sees a token or a page that was
not stored; a view that raised is rolled back by the error handlers (``discard``). CLI
commands get the same rule from ``transaction``. Domain functions only add and flush.

The schema lives in ``idp/migrations``; ``vhskoop-idp db upgrade`` applies it. A server
refuses to start on a database that is behind (``require_current``); in development it
upgrades by itself.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaBehind(Exception):
    """The database is not at the newest migration."""


UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError,
               exc.DisconnectionError)  # the database cannot answer now (a 503, not a 500)


def conflict(error: Exception) -> bool:
    """A transaction that PostgreSQL rolled back to settle a conflict with another one
    (SQLSTATE class 40: deadlock, serialization failure): a retry will do, and the
    database is not gone."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) in ("40001", "40P01")


def init_app(app: Flask) -> None:
    """Create the engine for IDP's DATABASE_URL; commit each answered request once."""
    engine = make_engine(app.config["DATABASE_URL"], app.config["DB_TIMEOUT_SECONDS"])
    app.extensions["idp.db"] = sessionmaker(engine, expire_on_commit=False)
    app.extensions["idp.db.outage"] = Outage()
    app.after_request(_commit_answered)
    app.teardown_appcontext(_close_session)


def make_engine(url: str, timeout: int = 5) -> Engine:
    """An engine with the per-dialect settings this app relies on.

    PostgreSQL: a connect timeout, a statement timeout, and a client-side limit on every
    wait for an answer (``DeadlineConnection``: a server that hangs, say stopped, keeps
    the TCP connection open and answers nothing), a pool that waits at most ``timeout``
    for a free connection, and a ping before a pooled connection that lay unused for
    more than a second is used again (the first request after a database restart
    succeeds; under load, connections are reused within milliseconds and spared the
    round trip that ``pool_pre_ping`` would add to every request).
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(
        url, pool_size=5, max_overflow=10, pool_timeout=timeout,
        connect_args={"connect_timeout": timeout,
                      "options": f"-c statement_timeout={timeout * 1000}"})
    event.listen(engine, "do_connect", functools.partial(_connect_with_deadline, timeout))
    event.listen(engine, "connect", _mark_used)
    event.listen(engine, "checkin", _mark_used)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


IDLE_PING_SECONDS = 1.0


def _mark_used(_dbapi_connection, record, *_rest) -> None:
    record.info["idp_used"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """A pooled connection unused for a while may have been cut (a database restart, a
    firewall): ask it first; a dead one is replaced (DisconnectionError makes the pool
    take a new connection)."""
    if time.monotonic() - record.info.get("idp_used", 0.0) <= IDLE_PING_SECONDS:
        return
    try:
        dbapi_connection.execute("SELECT 1")
        dbapi_connection.rollback()
    except psycopg.Error:
        raise exc.DisconnectionError("the pooled connection is gone") from None


class DeadlineConnection(psycopg.Connection):
    """A psycopg connection whose every wait for the server ends after ``answer_timeout``
    seconds; the connection is then closed (the pool drops it) and the caller gets an
    OperationalError, which the pages and endpoints answer with 503."""

    answer_timeout = 5.0

    def wait(self, gen, interval=0.1, timeout=None):
        try:
            return super().wait(gen, interval=interval, timeout=timeout or self.answer_timeout)
        except psycopg.errors._WaitTimeout:
            self.close()
            raise psycopg.OperationalError(
                f"the database did not answer within {self.answer_timeout} s") from None


def _connect_with_deadline(timeout: int, _dialect, _record, cargs, cparams):
    connection = DeadlineConnection.connect(*cargs, **cparams)
    connection.answer_timeout = float(timeout)
    return connection


class Outage:
    """Whether the database is down, so that an outage is logged once, not per request."""

    def __init__(self):
        self._lock = threading.Lock()
        self.since: float | None = None
        self.refused = 0

    def failed(self, error: Exception) -> None:
        """A request found the database unavailable."""
        with self._lock:
            first, self.refused = self.since is None, self.refused + 1
            if first:
                self.since = time.monotonic()
        if first:
            current_app.logger.error("database unavailable, answering 503 until it is back: "
                                     "%s", str(error).splitlines()[0][:200])

    def answered(self) -> None:
        """A request committed: the database is back, if it was gone."""
        if self.since is None:
            return
        with self._lock:
            since, refused, self.since, self.refused = self.since, self.refused, None, 0
        if since is not None:
            current_app.logger.warning("database back after %.0f s; %d requests were "
                                       "answered 503", time.monotonic() - since, refused)


def outage() -> Outage:
    """The app's outage tracker."""
    return current_app.extensions["idp.db.outage"]


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the one writer
    # With WAL, NORMAL syncs at checkpoints, not at every commit: a crash of the process
    # loses nothing, a power cut at most the last commits; never a corrupt file.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def engine(app: Flask | None = None) -> Engine:
    """The app's engine."""
    return (app or current_app).extensions["idp.db"].kw["bind"]


def session() -> Session:
    """The session of the current app context, created on first use."""
    if "idp_db_session" not in g:
        g.idp_db_session = current_app.extensions["idp.db"]()
    return g.idp_db_session


def insert(model):
    """The database's own INSERT of ``model`` (PostgreSQL's or SQLite's), which has
    ``on_conflict_do_nothing`` and ``on_conflict_do_update``."""
    dialect = postgresql if session().bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def _commit_answered(response):
    """The request's one commit: its view (or an error page) answered."""
    db_session = g.get("idp_db_session")
    if db_session is not None and db_session.in_transaction():
        db_session.commit()
        outage().answered()
    return response


def discard() -> None:
    """Roll back what this request or command wrote so far (it failed); a database that
    cannot even roll back is dropped with the session."""
    db_session = g.get("idp_db_session")
    if db_session is not None:
        try:
            db_session.rollback()
        except UNAVAILABLE:
            g.pop("idp_db_session", None)
            db_session.invalidate()


def transaction(command: Callable) -> Callable:
    """Run a CLI command in one transaction: commit when it returns, roll back if it fails."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            result = command(*args, **kwargs)
        except BaseException:
            discard()
            raise
        session().commit()
        return result
    return run


def _close_session(_exc) -> None:
    db_session = g.pop("idp_db_session", None)
    if db_session is not None:
        db_session.close()  # rolls back whatever was not committed


def _alembic_config(connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(app: Flask, revision: str = "head") -> None:
    """Apply the migrations up to ``revision``."""
    with engine(app).begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def downgrade(app: Flask, revision: str) -> None:
    """Go back to ``revision`` (for tests of the migrations and for operators)."""
    with engine(app).begin() as connection:
        command.downgrade(_alembic_config(connection), revision)


def code_heads() -> set[str]:
    """The newest revisions in the code (read from the migration scripts)."""
    return set(ScriptDirectory.from_config(_alembic_config(None)).get_heads())


def revisions(app: Flask, heads: set[str] | None = None) -> tuple[set[str], set[str]]:
    """(the database's current revisions, the newest revisions in the code); ``heads``
    spares reading the scripts again when the caller knows them."""
    with engine(app).connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current, heads if heads is not None else code_heads()


def require_current(app: Flask) -> None:
    """Refuse a database that is behind; in development, upgrade it instead."""
    current, heads = revisions(app)
    if current == heads:
        return
    if app.config["ENV"] == "development":
        upgrade(app)
        return
    raise SchemaBehind(
        f"The database is at revision {', '.join(sorted(current)) or 'none'}, the code needs "
        f"{', '.join(sorted(heads))}. Run `vhskoop-idp db upgrade` first."
    )
