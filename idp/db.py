"""The database: one engine per app, one session per request, one transaction boundary.

The edge owns the transaction: a request commits once, after its view answered and before
the answer leaves (``after_request``), so a client never sees a token or a page that was
not stored; a view that raised is rolled back by the error handlers (``discard``). CLI
commands get the same rule from ``transaction``. Domain functions only add and flush.

A hung database must not take the whole server with it. Requests take a turn before they
use the database (``Turns``, IDP_DB_CONCURRENT_REQUESTS per worker), so threads stay free
for what needs no database (discovery, JWKS, health, static files, the login page); a
request that finds every turn held by requests stuck waiting on a database that does not
even answer ``SELECT 1``, or the database declared gone, is answered 503 at once
(``Busy``). On PostgreSQL all of one
request's waits on the database (its turn, a connection, every answer) end within
IDP_DB_TIMEOUT_SECONDS together.

The schema lives in ``idp/migrations``; ``vhskoop-idp db upgrade`` applies it. A server
refuses to start on a database that is behind (``require_current``); in development it
upgrades by itself.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, exc, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from . import turns
from .turns import Busy

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaBehind(Exception):
    """The database is not at the newest migration."""


UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError,
               exc.DisconnectionError, Busy)  # the database cannot answer now (503, not 500)
VERSION_TABLE = "alembic_version"


def conflict(error: Exception) -> bool:
    """A transaction that PostgreSQL rolled back to settle a conflict with another one
    (SQLSTATE class 40: deadlock, serialization failure): a retry will do, and the
    database is not gone."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) in ("40001", "40P01")


def init_app(app: Flask) -> None:
    """Create the engine for IDP's DATABASE_URL and the requests' turns; commit each
    answered request once."""
    engine = make_engine(app.config["DATABASE_URL"], app.config["DB_TIMEOUT_SECONDS"])
    outage = Outage(app.logger)
    event.listen(engine, "after_cursor_execute", lambda *_: outage.answered())
    app.extensions["idp.db"] = sessionmaker(engine, expire_on_commit=False)
    app.extensions["idp.db.outage"] = outage
    app.extensions["idp.db.turns"] = turns.Turns(app.config["DB_CONCURRENT_REQUESTS"],
                                                 app.config["DB_TIMEOUT_SECONDS"], outage,
                                                 engine)
    app.after_request(_commit_answered)
    app.teardown_appcontext(_close_session)


def make_engine(url: str, timeout: int = 5) -> Engine:
    """An engine with the per-dialect settings this app relies on.

    PostgreSQL: a connect timeout, a statement timeout, and a client-side limit on every
    wait for an answer (``DeadlineConnection``: a server that hangs, say stopped, keeps
    the TCP connection open and answers nothing; within a request, the waits of the whole
    request share one budget), a pool that waits at most ``timeout`` for a free
    connection, and a ping before a pooled connection that lay unused for more than a
    second is used again (the first request after a database restart succeeds; under
    load, connections are reused within milliseconds and spared the round trip that
    ``pool_pre_ping`` would add to every request).
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(
        url, pool_size=5, max_overflow=10, pool_timeout=timeout,
        connect_args={"connect_timeout": timeout,
                      "options": f"-c statement_timeout={timeout * 1000}"})
    turns.bound(engine, timeout)
    return engine


class Outage:
    """Whether the database is down, so that an outage is logged once, not per request;
    the first query that succeeds afterwards (of any request or command) ends it."""

    def __init__(self, logger: logging.Logger):
        self._logger = logger
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
            self._logger.error("database unavailable, answering 503 until it is back: %s",
                               str(error).splitlines()[0][:200])

    def busy(self) -> bool:
        """A request found no turn at the database; whether an outage is declared."""
        with self._lock:
            if self.since is not None:
                self.refused += 1
            return self.since is not None

    def answered(self) -> None:
        """The database answered a query: it is back, if it was gone."""
        if self.since is None:
            return
        with self._lock:
            since, refused, self.since, self.refused = self.since, self.refused, None, 0
        if since is not None:
            self._logger.warning("database back after %.0f s; %d requests were answered "
                                 "503", time.monotonic() - since, refused)


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
    """The session of the current app context, created on first use; one serving a
    request first takes the request's turn (``Busy`` when there is none)."""
    if "idp_db_session" not in g:
        if turns.needed():
            g.idp_db_turn = current_app.extensions["idp.db.turns"].take()
        g.idp_db_session = current_app.extensions["idp.db"]()
    return g.idp_db_session


class Driver:
    """A pooled DBAPI connection, read without SQLAlchemy's execution layer: for the one
    read that is answered most often (userinfo's fast path), whose statement is compiled
    once per dialect. SQLAlchemy's own execution costs about as much as the rest of such
    a request (events, result metadata, the Connection around the pooled one); the pool,
    its checkout ping and PostgreSQL's deadlines stay as they are."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def first(self, statement, params: dict) -> tuple | None:
        """The first row of ``statement`` with ``params``; the connection goes back to the
        pool at once (rolled back there), or is dropped when the read failed."""
        sql, order = _driver_sql(statement, self.engine.dialect)
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, params if order is None else tuple(params[name]
                                                                   for name in order))
            row = cursor.fetchone()
            cursor.close()
        except BaseException:
            connection.invalidate()  # it failed mid-way (a hung database): never reused
            raise
        connection.close()
        return None if row is None else tuple(row)


@functools.lru_cache(maxsize=16)
def _driver_sql(statement, dialect) -> tuple[str, tuple[str, ...] | None]:
    """``statement`` as the driver's SQL, with the order of its parameters where the
    driver takes them by position (SQLite), None where by name (psycopg)."""
    compiled = statement.compile(dialect=dialect)
    return compiled.string, tuple(compiled.positiontup) if compiled.positional else None


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
    try:
        if db_session is not None:
            db_session.close()  # rolls back whatever was not committed
    except UNAVAILABLE:
        db_session.invalidate()  # a database that cannot even roll back: drop the connection
    finally:
        turn = g.pop("idp_db_turn", None)
        if turn is not None:
            current_app.extensions["idp.db.turns"].give_back(turn)


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
    """The newest revisions in the code (read from the migration scripts once per process:
    they do not change while it runs)."""
    return set(_heads())


@functools.cache
def _heads() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(_alembic_config(None)).get_heads())


def revisions(app: Flask, heads: set[str] | None = None) -> tuple[set[str], set[str]]:
    """(the database's current revisions, the newest revisions in the code); ``heads``
    spares reading the scripts again when the caller knows them."""
    with engine(app).connect() as connection:
        current = stored_revisions(connection)
    return current, heads if heads is not None else code_heads()


def stored_revisions(connection) -> set[str]:
    """The revisions the database is at, read from Alembic's table directly: Alembic's
    own context logs two INFO lines each time, and /readyz asks often."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return set()
    return set(connection.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}")))


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
