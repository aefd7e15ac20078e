"""Each pytest-xdist worker gets a database of its own, copied from one migrated template.

A pytest plugin (tests/conftest.py names it). The first worker to get here migrates a
template once per run, under a file lock in the run's shared temporary folder; every worker
then copies it:
- SQLite: the template is a file, each worker's database a copy of it;
- PostgreSQL (IDP_TEST_DATABASE_URL): the template is the database ``<name>_template`` on
  that server, each worker's ``<name>_<worker>`` is made with ``CREATE DATABASE ...
  TEMPLATE``. The worker's URL replaces IDP_TEST_DATABASE_URL in its environment, so the
  programs' tables (tests/worlds.py) and the tests that start servers use it too.

Redis: each worker has a database number of its own (15 for the first, 14, ...).
A run without xdist is the worker ``main``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from idp import create_app, db
from idp.models import Base
from keys import KeyStore, Policy

from .helpers import WORKER, app_settings, locked, own_name, shared_folder

# The run's URL as given; the workers inherit it from the controller under this name, since
# each process points IDP_TEST_DATABASE_URL at its own database.
RUN_DATABASE = os.environ.setdefault("IDP_TEST_RUN_DATABASE_URL",
                                     os.environ.get("IDP_TEST_DATABASE_URL", ""))


def worker_number() -> int:
    """0 for ``gw0`` and for a run without xdist, 1 for ``gw1``, ..."""
    found = re.search(r"\d+$", WORKER)
    return int(found.group()) if found else 0


def pytest_configure(config):
    """Point this worker's environment at its own databases (before any test reads it)."""
    if RUN_DATABASE:
        url = make_url(RUN_DATABASE)
        os.environ["IDP_TEST_DATABASE_URL"] = url.set(
            database=own_name(url.database)).render_as_string(hide_password=False)
    if "IDP_TEST_REDIS_URL" not in os.environ:
        os.environ["IDP_TEST_REDIS_URL"] = f"redis://127.0.0.1:6379/{15 - worker_number()}"


def migrate(url: str, settings) -> None:
    """Empty the database at ``url`` and bring it to the newest migration."""
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
    app = create_app(settings(url))
    db.upgrade(app)
    db.engine(app).dispose()


def sqlite_copy(shared: Path, own: Path, settings) -> str:
    """This worker's SQLite file, a copy of the run's migrated template."""
    template = shared / "template.sqlite3"
    with locked(shared / "template.lock"):
        if not template.exists():
            building = shared / "template-building.sqlite3"
            migrate(f"sqlite:///{building}", settings)
            building.rename(template)
    shutil.copyfile(template, own / "test.sqlite3")
    return f"sqlite:///{own / 'test.sqlite3'}"


def postgres_copy(shared: Path, own: Path, settings) -> str:
    """This worker's PostgreSQL database, made from the run's migrated template."""
    import psycopg

    run = make_url(RUN_DATABASE)
    template = f"{run.database}_template"
    admin_url = run.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    mine = make_url(os.environ["IDP_TEST_DATABASE_URL"])
    with locked(shared / "template.lock"):
        try:
            admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
        except psycopg.Error as error:  # the PostgreSQL run must fail, not skip
            pytest.exit(f"IDP_TEST_DATABASE_URL={RUN_DATABASE} is unreachable: {error}",
                        returncode=3)
        with admin:
            if not (shared / "template.done").exists():
                admin.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
                admin.execute(f'CREATE DATABASE "{template}"')
                migrate(run.set(database=template).render_as_string(hide_password=False),
                        settings)
                (shared / "template.done").touch()
            admin.execute(f'DROP DATABASE IF EXISTS "{mine.database}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{mine.database}" TEMPLATE "{template}"')
    return mine.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def key_template(tmp_path_factory):
    """A generated keyring, copied for each app (RSA 3072 generation takes a while)."""
    path = tmp_path_factory.mktemp("keys-template")
    KeyStore(path).ensure(int(time.time()), Policy(retain_seconds=900))
    return path


@pytest.fixture(scope="session", autouse=True)
def database_url(tmp_path_factory, key_template):
    """This worker's database at the newest migration, empty."""
    def settings(url):
        keys_dir = tmp_path_factory.mktemp("migrate-keys")
        shutil.copytree(key_template, keys_dir, dirs_exist_ok=True)
        return app_settings(url, keys_dir)

    shared, own = shared_folder(tmp_path_factory), tmp_path_factory.mktemp("db")
    if RUN_DATABASE:
        return postgres_copy(shared, own, settings)
    return sqlite_copy(shared, own, settings)


@pytest.fixture(scope="session")
def migrated(database_url):
    """The database, migrated (the name the tests use)."""
    return database_url


def snapshot(app) -> dict[str, list[dict]]:
    """Every row of every table of ``app``'s database (a world built once, to copy)."""
    with db.engine(app).connect() as connection:
        return {table.name: [dict(row._mapping) for row in connection.execute(table.select())]
                for table in Base.metadata.sorted_tables}


def restore(app, rows: dict[str, list[dict]]) -> None:
    """Put a ``snapshot`` back into ``app``'s empty database, in one transaction; on
    PostgreSQL each id sequence then continues after the highest id, as after a build."""
    with db.engine(app).begin() as connection:
        for table in Base.metadata.sorted_tables:
            if rows[table.name]:
                connection.execute(table.insert(), rows[table.name])
        if connection.dialect.name != "postgresql":
            return
        for table in Base.metadata.sorted_tables:
            if "id" in table.c and table.c.id.autoincrement in (True, "auto") \
                    and table.c.id.primary_key:
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)"))
