"""Adapters that read a Verwaltungsprogramm's user management from its SQL database.

KuferSQL 5.0 and itm:MANAGER keep their users in a table with e-mail fields, an active
flag and a release flag ("Im Internet anzeigen"); KuferSQL may hold several institutions
(Mandanten) in one database. Table and column names are options, because installations
differ; the defaults are documented per program. The database is only read: one SELECT
per check, always with bound parameters, and on PostgreSQL in a read-only transaction
with a statement timeout. Every call ends within the ``timeout`` option, also when the
server accepts and never answers (``SqlAdapter._read``).

Matching is on the cleaned address (``adapters.address.clean``) on both sides: first an
exact, indexed comparison; only when that finds nothing, a scan of the stored addresses
that cleans each one, so that an address stored with an invisible character still
matches (and ``diagnose`` can name the character).
"""

from __future__ import annotations

import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import String, cast, create_engine, func, or_, select
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from .address import clean, is_plausible
from .base import (
    ELIGIBLE,
    INACTIVE,
    NOT_RELEASED,
    UNKNOWN,
    AdapterConfigError,
    AdapterUnavailable,
    Context,
    Decision,
    Option,
    Options,
    Person,
    best,
)

T = TypeVar("T")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
TRUTHY = ["1", "true", "t", "j", "ja", "y", "yes", "x", "-1"]


def _options(table: str, id_column: str, name_columns: list, email_columns: list,
             active_column: str, released_column: str, mandant_column: str) -> dict:
    return {
        "url": Option(str, doc="SQLAlchemy URL of the program's database (read-only user)",
                      secret=True),
        "schema": Option(str, "", "database schema of the table, empty: the default"),
        "table": Option(str, table, "the user table"),
        "id_column": Option(str, id_column, "the program's own user id"),
        "name_columns": Option(list, name_columns, "columns joined to the display name"),
        "email_columns": Option(list, email_columns, "every column that may hold the address"),
        "active_column": Option(str, active_column, "the user is active"),
        "released_column": Option(str, released_column,
                                  'the release flag ("Im Internet anzeigen")'),
        "mandant_column": Option(str, mandant_column, "the Mandant; empty: none"),
        "mandant": Option((str, int), "", "only users of this Mandant; empty: any"),
        "truthy": Option(list, TRUTHY, "flag values that mean yes (compared lower-case)"),
        "timeout": Option((int, float), 5, "seconds for connecting and for the query"),
        "scan_on_miss": Option(bool, True,
                               "clean every stored address when the exact match finds none"),
    }


def _plain(stored: str) -> bool:
    """Printable ASCII without spaces: clean() would only lower-case it."""
    return stored.isascii() and stored.isprintable() and " " not in stored


def _near(one: str, other: str, most: int = 2) -> bool:
    """Whether two words differ by at most ``most`` insertions, deletions or changes."""
    if abs(len(one) - len(other)) > most:
        return False
    row = list(range(len(other) + 1))
    for i, a in enumerate(one, 1):
        previous, row[0] = row[0], i
        for j, b in enumerate(other, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (a != b))
        if min(row) > most:
            return False
    return row[-1] <= most


class _Deadline:
    """Hangs up a PostgreSQL connection (shuts its socket down, so that the waiting read
    ends at once with an error) if the work on it is not done in time."""

    def __init__(self):
        self.fired = False
        self.timer: threading.Timer | None = None

    def start(self, connection: Connection, seconds: float) -> None:
        pgconn = getattr(connection.connection.dbapi_connection, "pgconn", None)
        if pgconn is None:  # not psycopg: the driver's own timeouts apply
            return
        self.timer = threading.Timer(max(0.0, seconds), self._hang_up, (pgconn,))
        self.timer.daemon = True
        self.timer.start()

    def _hang_up(self, pgconn) -> None:
        self.fired = True
        try:
            with socket.socket(fileno=os.dup(pgconn.socket)) as end:
                end.shutdown(socket.SHUT_RDWR)
        except Exception:  # noqa: BLE001 - the connection ended meanwhile: nothing to do
            pass

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


class SqlAdapter:
    """A user table in a SQL database; subclasses give the program's default names."""

    NAME = "sql"
    OPTIONS: Mapping[str, Option] = {}

    def __init__(self, options: Mapping[str, Any], context: Context):
        self.vhs = context.vhs
        self.options = Options.parse(self.NAME, context.vhs, self.OPTIONS, options)
        where = f"VHS {context.vhs!r}, adapter {self.NAME!r}"
        names = [self.options[k] for k in ("table", "id_column", "active_column",
                                           "released_column")]
        names += list(self.options["name_columns"]) + list(self.options["email_columns"])
        names += [n for n in (self.options["schema"], self.options["mandant_column"]) if n]
        for name in names:
            if not isinstance(name, str) or not IDENTIFIER.match(name):
                raise AdapterConfigError(f"{where}: {name!r} is not a plain table or column name")
        if not self.options["email_columns"]:
            raise AdapterConfigError(f"{where}: option 'email_columns' must name a column")
        if self.options["timeout"] <= 0:
            raise AdapterConfigError(f"{where}: option 'timeout' must be positive")
        self.truthy = {str(v).lower() for v in self.options["truthy"]}
        try:
            self.engine = create_engine(self.options["url"], **self._engine_arguments())
        except (SQLAlchemyError, ValueError, ImportError) as error:
            raise AdapterConfigError(f"{where}: option 'url' cannot be used: {error}") from None
        self._build_query()

    def _engine_arguments(self) -> dict:
        timeout = self.options["timeout"]
        url = self.options["url"]
        if url.startswith("postgresql"):
            # no pre-ping: a ping to a hung server would wait without end (``_read``)
            return {"connect_args": {
                "connect_timeout": max(1, math.ceil(timeout)),
                "options": f"-c statement_timeout={int(timeout * 1000)} "
                           "-c default_transaction_read_only=on"}}
        if url.startswith("sqlite"):
            return {"connect_args": {"timeout": timeout}}
        if url.startswith("mssql"):
            return {"pool_pre_ping": True, "connect_args": {"timeout": math.ceil(timeout)}}
        return {"pool_pre_ping": True}

    def _build_query(self) -> None:
        o = self.options
        columns = {o["id_column"], o["active_column"], o["released_column"],
                   *o["name_columns"], *o["email_columns"]}
        if o["mandant_column"]:
            columns.add(o["mandant_column"])
        self.table = sql_table(o["table"], *(sql_column(c) for c in sorted(columns)),
                               schema=o["schema"] or None)
        self.emails = [self.table.c[c] for c in o["email_columns"]]
        query = select(self.table)
        if o["mandant_column"] and o["mandant"] != "":
            query = query.where(self.table.c[o["mandant_column"]] == o["mandant"])
        self.query = query

    def check(self, address: str) -> Decision:
        """Look the cleaned address up; eligible when active and released."""
        wanted = clean(address or "").value
        if not is_plausible(wanted):
            return Decision(UNKNOWN)

        def look(connection) -> list[tuple[Mapping, str]]:
            exact = self.query.where(or_(*(func.lower(c) == wanted for c in self.emails)))
            found = self._matches(connection.execute(exact), wanted, scanning=False)
            if not found and self.options["scan_on_miss"]:
                scan = self.query.where(or_(*(c.is_not(None) for c in self.emails)))
                found = self._matches(connection.execute(scan), wanted, scanning=True)
            return found

        return best([self._decide(row, stored) for row, stored in self._read(look)])

    def check_many(self, addresses: list[str]) -> dict[str, Decision]:
        """The decisions for many addresses with one exact query (and, for the ones it does
        not find, one scan), as ``check`` decides each."""
        wanted = {address: clean(address or "").value for address in addresses}
        found: dict[str, list[tuple[Mapping, str]]] = {
            value: [] for value in wanted.values() if is_plausible(value)}

        def look(connection) -> None:
            if found:
                exact = self.query.where(or_(*(func.lower(c).in_(sorted(found))
                                               for c in self.emails)))
                self._collect(connection.execute(exact), found, scanning=False)
            missing = {value: [] for value, rows in found.items() if not rows}
            if missing and self.options["scan_on_miss"]:
                scan = self.query.where(or_(*(c.is_not(None) for c in self.emails)))
                self._collect(connection.execute(scan), missing, scanning=True)
                found.update(missing)

        self._read(look)
        return {address: best([self._decide(row, stored) for row, stored in
                               found.get(value, [])]) for address, value in wanted.items()}

    def find_by_id(self, user_id: str) -> Decision | None:
        """The decision for the program's user ``user_id`` under whatever address it has
        now (the lifecycle tells a mover from a leaver with it); None when there is none."""
        if not isinstance(user_id, str) or not 0 < len(user_id) <= 200:
            return None
        column = self.table.c[self.options["id_column"]]
        row = self._read(lambda connection: connection.execute(self.query.where(
            cast(column, String) == user_id).limit(1)).mappings().first())
        if row is None:
            return None
        stored = next((row[c] for c in self.options["email_columns"]
                       if isinstance(row[c], str) and row[c].strip()), None)
        return self._decide(row, stored) if stored is not None else None

    def _read(self, work: Callable[[Connection], T]) -> T:
        """``work`` on a connection, all of it within the ``timeout`` option, or
        AdapterUnavailable. A server that accepts and never answers (hung, stopped, a
        stuck network) does not enforce its own statement timeout, so on PostgreSQL a
        timer hangs up the connection at the deadline. A pooled connection the server has
        closed meanwhile (a restart) is tried once more, afresh."""
        timeout = self.options["timeout"]
        deadline = time.monotonic() + timeout
        for attempt in (1, 2):
            guard = _Deadline()
            try:
                with self.engine.connect() as connection:
                    guard.start(connection, deadline - time.monotonic())
                    try:
                        return work(connection)
                    finally:
                        guard.cancel()
            except SQLAlchemyError as error:
                if guard.fired:
                    raise AdapterUnavailable(
                        f"{self.NAME} database of VHS {self.vhs!r}: no answer within "
                        f"{timeout:g} s") from None
                stale = getattr(error, "connection_invalidated", False)
                if attempt == 1 and stale and time.monotonic() < deadline:
                    continue
                raise AdapterUnavailable(
                    f"{self.NAME} database of VHS {self.vhs!r}: {type(error).__name__}: "
                    f"{str(error).splitlines()[0][:200]}"
                ) from None
        raise AssertionError("unreachable")  # the second attempt returns or raises

    def similar(self, address: str, limit: int = 3) -> list[str]:
        """Stored addresses of the same domain that differ from ``address`` by at most two
        letters (a typo in the program: "tom.tipfehler" for "tom.tippfehler"), as stored;
        for the diagnosis only (it reads the domain's addresses)."""
        wanted = clean(address or "").value
        local, _, domain = wanted.partition("@")
        if not is_plausible(wanted) or not domain:
            return []

        def look(connection) -> list[str]:
            near = []
            query = self.query.where(or_(*(func.lower(c).like(
                "%@" + domain.replace("%", "").replace("_", "\\_"), escape="\\")
                for c in self.emails)))
            for row in connection.execute(query).mappings():
                for column in self.options["email_columns"]:
                    stored = row[column]
                    if not isinstance(stored, str):
                        continue
                    other = clean(stored).value
                    if other != wanted and other.endswith("@" + domain) and _near(
                            other.partition("@")[0], local):
                        near.append(stored)
            return near

        return sorted(set(self._read(look)))[:limit]

    def _collect(self, rows, found: dict[str, list], scanning: bool) -> None:
        """Add each row to every wanted address one of its e-mail columns holds."""
        for row in rows.mappings():
            for value, stored in self._cleaned(row, scanning):
                if value in found and all(kept is not row for kept, _ in found[value]):
                    found[value].append((row, stored))

    def _cleaned(self, row: Mapping, scanning: bool):
        for column in self.options["email_columns"]:
            stored = row[column]
            if isinstance(stored, str) and not (scanning and _plain(stored)):
                yield clean(stored).value, stored

    def _matches(self, rows, wanted: str, scanning: bool) -> list[tuple[Mapping, str]]:
        found = []
        for row in rows.mappings():
            for column in self.options["email_columns"]:
                stored = row[column]
                if not isinstance(stored, str):
                    continue
                if scanning and _plain(stored):
                    continue  # cleaning only lower-cases it: the exact match has seen it
                if clean(stored).value == wanted:
                    found.append((row, stored))
                    break
        return found

    def _flag(self, value) -> bool:
        return value is not None and str(value).strip().lower() in self.truthy

    def _decide(self, row: Mapping, stored: str) -> Decision:
        o = self.options
        names = [str(row[c]).strip() for c in o["name_columns"] if row[c]]
        person = Person(
            user_id=str(row[o["id_column"]]),
            display_name=" ".join(names) or None,
            mandant=str(row[o["mandant_column"]]) if o["mandant_column"] else None,
            stored_address=stored,
        )
        if not self._flag(row[o["active_column"]]):
            return Decision(INACTIVE, person)
        if not self._flag(row[o["released_column"]]):
            return Decision(NOT_RELEASED, person)
        return Decision(ELIGIBLE, person)

    def close(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()


class KuferSqlAdapter(SqlAdapter):
    """KuferSQL 5.0: the Benutzerverwaltung, with Mandanten.

    Default names (change them per installation): table ``benutzer`` with ``id``,
    ``vorname``, ``name``, ``email``, ``email2``, ``aktiv``, ``internet_anzeigen`` (the
    checkbox "Im Internet anzeigen" on the tab "Schalter") and ``mandant``.
    """

    NAME = "kufersql"
    OPTIONS = _options("benutzer", "id", ["vorname", "name"], ["email", "email2"],
                       "aktiv", "internet_anzeigen", "mandant")


class ItmManagerAdapter(SqlAdapter):
    """itm:MANAGER / vhs.Manager: the staff table.

    Default names: table ``mitarbeiter`` with ``personal_nr``, ``vorname``, ``nachname``,
    ``email_dienstlich``, ``aktiv`` and ``portal_freigabe``; no Mandant.
    """

    NAME = "itm_manager"
    OPTIONS = _options("mitarbeiter", "personal_nr", ["vorname", "nachname"],
                       ["email_dienstlich"], "aktiv", "portal_freigabe", "")
