"""Fixtures for the Verwaltungsprogramme: the same people in each program's own shape.

A pytest plugin (tests/conftest.py names it), so every test module can use the worlds.

People (address as stored -> what the contract expects):
- Anna.Muster@vhs-straubing.de, active and released          -> eligible
- bernd@vhs-straubing.de, active, "Im Internet anzeigen" off -> not_released
- carla@vhs-straubing.de, no longer active                   -> inactive
- "dora@vhs-straubing.de" + U+00A0 (pasted no-break space)    -> eligible after cleaning
- erik@vhs-straubing.de, of another Mandant (KuferSQL only)   -> unknown there
"""

from __future__ import annotations

import json
import os
import secrets
import socket

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, create_engine

from adapters.base import Context

from .helpers import require_service

PEOPLE = [
    # id, first, last, address as stored, active, released, mandant
    (1, "Anna", "Muster", "Anna.Muster@vhs-straubing.de", True, True, "1"),
    (2, "Bernd", "Beispiel", "bernd@vhs-straubing.de", True, False, "1"),
    (3, "Carla", "Clever", "carla@vhs-straubing.de", False, True, "1"),
    (4, "Dora", "Dreher", "dora@vhs-straubing.de\u00a0", True, True, "1"),
    (5, "Erik", "Extern", "erik@vhs-straubing.de", True, True, "2"),
]


def database_url(tmp_path) -> str:
    """The program's database: PostgreSQL in the PostgreSQL run, else a SQLite file."""
    return os.environ.get("IDP_TEST_DATABASE_URL") or f"sqlite:///{tmp_path}/program.sqlite3"


def make_program_table(url: str, name: str, columns: dict[str, str], rows) -> Table:
    """Create (anew) the program's user table and fill it; returns it for cleanup."""
    metadata = MetaData()
    types = {"id": Integer, "text": String(320), "flag": Boolean, "yesno": String(1)}
    table = Table(name, metadata, *(Column(c, types[kind]) for c, kind in columns.items()))
    engine = create_engine(url)
    with engine.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
        connection.execute(table.insert(),
                           [dict(zip(columns, row, strict=True)) for row in rows])
    engine.dispose()
    return table


def drop_program_table(url: str, table: Table) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        table.drop(connection, checkfirst=True)
    engine.dispose()


@pytest.fixture
def kufer_world(tmp_path):
    """A KuferSQL-shaped Benutzerverwaltung with Mandanten; flags as 'J'/'N'."""
    url = database_url(tmp_path)
    rows = [(i, first, last, address, None, "J" if active else "N", "J" if released else "N",
             mandant) for i, first, last, address, active, released, mandant in PEOPLE]
    table = make_program_table(url, "benutzer", {
        "id": "id", "vorname": "text", "name": "text", "email": "text", "email2": "text",
        "aktiv": "yesno", "internet_anzeigen": "yesno", "mandant": "text"}, rows)
    yield {"url": url, "mandant": "1"}
    drop_program_table(url, table)


@pytest.fixture
def manager_world(tmp_path):
    """An itm:MANAGER-shaped staff table; flags as booleans; no Mandanten."""
    url = database_url(tmp_path)
    rows = [(i, first, last, address, active, released)
            for i, first, last, address, active, released, mandant in PEOPLE if mandant == "1"]
    table = make_program_table(url, "mitarbeiter", {
        "personal_nr": "id", "vorname": "text", "nachname": "text",
        "email_dienstlich": "text", "aktiv": "flag", "portal_freigabe": "flag"}, rows)
    yield {"url": url}
    drop_program_table(url, table)


@pytest.fixture
def directory_file(tmp_path):
    """The people as a pushed JSON list in a file."""
    path = tmp_path / "users.json"
    path.write_text(json.dumps([
        {"email": address, "id": str(i), "name": f"{first} {last}", "active": active,
         "released": released}
        for i, first, last, address, active, released, mandant in PEOPLE if mandant == "1"]))
    return str(path)


class Links:
    """An in-memory stand-in for the provider's KMA link table (the LinkStore protocol)."""

    def __init__(self, linked: set[tuple[str, str]]):
        self.linked = linked

    def is_linked(self, vhs: str, address: str) -> bool:
        return (vhs, address) in self.linked


def context(vhs: str = "straubing", links: Links | None = None, entries=None) -> Context:
    """A context as the provider builds it, with adapters built through the registry."""
    from adapters import registry

    def build(name, options):
        return registry.build(name, options, ctx)

    ctx = Context(vhs=vhs, build=build, links=links, entries=entries)
    return ctx  # noqa: RET504 - build() above refers to it


AMQP_URL = os.environ.get("IDP_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


@pytest.fixture
def amqp_url():
    """RabbitMQ on loopback; a missing broker fails in CI and skips locally."""
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError as error:
        require_service("RabbitMQ on 127.0.0.1:5672", error)
    return AMQP_URL


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unique_vhs() -> str:
    return "vhs-" + secrets.token_hex(4)

