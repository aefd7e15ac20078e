"""The server refuses a database that is behind, naming the command; development upgrades."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlalchemy import bindparam, select, text

from idp import create_app, db, help, labels
from idp.models import AuditEvent, HelpRequest, Vhs

from ..helpers import SECRET


def fresh_app(tmp_path, env="production"):
    return create_app({"ENV": env, "SECRET_KEY": SECRET,
                       "DATABASE_URL": "sqlite:///" + str(tmp_path / "behind.sqlite3"),
                       "KEYS_DIR": str(tmp_path / "keys")})


def test_production_refuses_a_database_that_is_behind(tmp_path):
    app = fresh_app(tmp_path)
    with pytest.raises(db.SchemaBehind, match="vhskoop-idp db upgrade"):
        db.require_current(app)
    db.upgrade(app)
    db.require_current(app)  # now it starts
    db.downgrade(app, "base")
    with pytest.raises(db.SchemaBehind):
        db.require_current(app)


def test_development_upgrades_by_itself(tmp_path):
    app = fresh_app(tmp_path, env="development")
    db.require_current(app)
    current, heads = db.revisions(app)
    assert current == heads


def test_migrations_go_down_and_up_again_on_the_test_database(make_app):
    app = make_app()
    db.downgrade(app, "base")
    try:
        assert db.revisions(app)[0] == set()
    finally:
        db.upgrade(app)
    assert db.revisions(app)[0] == db.revisions(app)[1]


def test_the_migrations_build_exactly_the_models(make_app):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from idp.models import Base

    app = make_app()
    with db.engine(app).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_a_help_requests_printed_diagnosis_becomes_data_and_back(make_app):
    """Migration 0015: the lines "[FAIL] text<TAB>advice" kept before become findings."""
    app = make_app()
    db.downgrade(app, "0014")
    try:
        with db.engine(app).begin() as connection:
            connection.execute(text(
                "INSERT INTO vhs (id, slug, name, onboarded, created_at) "
                "VALUES (901, 'altdorf', 'vhs Altdorf', true, 0)"))
            connection.execute(text(
                "INSERT INTO help_requests (vhs_id, address, diagnosis, state, needs_item, "
                "created_at, checks) VALUES (901, 'tom@vhs-altdorf.de', :diagnosis, 'open', "
                "false, 0, 0)"), {"diagnosis": "[ok]   Die vhs Altdorf ist freigegeben.\n"
                                  "[FAIL] Die Adresse fehlt.\tIm Programm eintragen.\n"})
        db.upgrade(app)
        with app.app_context():
            asked = db.session().scalar(select(HelpRequest))
            found = help.findings(asked)
            assert [(f.ok, f.text, f.advice) for f in found] == [
                (True, "Die vhs Altdorf ist freigegeben.", None),
                (False, "Die Adresse fehlt.", "Im Programm eintragen.")]
            assert help.problem(asked) == "Die Adresse fehlt."
        db.downgrade(app, "0014")
        with db.engine(app).connect() as connection:
            assert connection.execute(text("SELECT diagnosis FROM help_requests")).scalar() == (
                "[ok]   Die vhs Altdorf ist freigegeben.\n"
                "[FAIL] Die Adresse fehlt.\tIm Programm eintragen.")
    finally:
        db.upgrade(app)


def test_events_from_before_the_actor_was_stored_say_what_can_be_known(make_app):
    """Migration 0022: a console actor's name and VHS are taken from the account as it is,
    the role is left unknown; a command's actor is the command line."""
    app = make_app()
    db.downgrade(app, "0021")
    try:
        with db.engine(app).begin() as connection:
            connection.execute(text(
                "INSERT INTO vhs (id, slug, name, onboarded, created_at) "
                "VALUES (902, 'altdorf', 'vhs Altdorf', true, 0)"))
            connection.execute(text(
                "INSERT INTO accounts (vhs_id, address, display_name, source, status, sub, "
                "email_verified, created_at, no_answers) VALUES (902, 'anna@vhs-altdorf.de', "
                "'Anna Alt', 'local', 'active', 'sub-anna-alt', true, 0, 0)"))
            for number, actor in enumerate(("console:altdorf/anna@vhs-altdorf.de",
                                            "console:altdorf/weg@vhs-altdorf.de", "cli:root")):
                connection.execute(text(
                    "INSERT INTO audit_events (at, kind, actor, detail) VALUES (:at, 'admin', "
                    ":actor, 'accounts disable')"), {"at": number, "actor": actor})
        db.upgrade(app)
        with app.app_context(), force_locale("de"):
            said = [labels.acted_by(event) for event in db.session().scalars(
                select(AuditEvent).order_by(AuditEvent.at))]
        assert said == ["Anna Alt, vhs Altdorf (Rolle damals nicht gespeichert)",
                        "weg@vhs-altdorf.de, vhs Altdorf (Rolle damals nicht gespeichert)",
                        "Kommandozeile (root)"]
    finally:
        db.upgrade(app)


def test_a_read_on_the_driver_binds_each_parameter_by_its_name(app, tenant):
    """userinfo's read below SQLAlchemy: SQLite takes parameters by position, psycopg by
    name; each value must land where its name is, whatever order the dict has."""
    statement = select(Vhs.slug, Vhs.name).where(Vhs.name == bindparam("name"),
                                                 Vhs.slug == bindparam("slug"))
    slug, name = tenant[0], "vhs Straubing"
    driver = db.Driver(db.engine(app))
    assert driver.first(statement, {"slug": slug, "name": name}) == (slug, name)
    assert driver.first(statement, {"name": name, "slug": slug}) == (slug, name)
    assert driver.first(statement, {"slug": name, "name": slug}) is None
    assert db.engine(app).pool.checkedout() == 0  # each read gave its connection back
