"""``vhskoop-idp db ...``, ``diagnose``, ``purge``, ``audit`` and ``settings``: running an
installation."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale

from .. import audit, db, diagnose, labels, retention
from ..settings import SETTINGS
from .base import Group, command


@click.group("db", cls=Group)
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations."""
    db.upgrade(current_app, revision)
    current, _ = db.revisions(current_app)
    click.echo(f"database at revision {', '.join(sorted(current))}")


@db_group.command("current", read_only=True)
def db_current() -> int:
    """Show the database's revision and the code's; exit 1 when they differ."""
    current, heads = db.revisions(current_app)
    click.echo(f"database: {', '.join(sorted(current)) or 'empty'}")
    click.echo(f"code:     {', '.join(sorted(heads))}")
    return 0 if current == heads else 1


@command("diagnose")
@click.option("--vhs", "slug", required=True)
@click.option("--email", required=True)
def diagnose_command(slug: str, email: str) -> int:
    """Run every check of the help page; exit 0 when the person could get access."""
    with force_locale("en"):
        findings, access = diagnose.diagnose(slug, email)
        for finding in findings:
            click.echo(finding.line())
    click.echo("=> could get access" if access else "=> cannot get access")
    return 0 if access else 1


@click.command("settings")
@with_appcontext
def settings_command() -> None:
    """Every IDP_* setting: its default (in words where it is computed) and the value in
    force (of a secret only "set", or the default it falls back to); needs no database."""
    for name, setting in SETTINGS.items():
        value = current_app.config[name]
        default = setting.written_default.replace("`", "")
        if setting.secret:
            value = "set" if value and os.environ.get(f"IDP_{name}") else f"not set: {default}"
        elif value == "" or value is None:
            value = default
        click.echo(f"IDP_{name}\t{default}\t{value}")


@command("purge")
def purge() -> None:
    """Enforce every retention period (the IDP_*_DAYS settings): remove what is due,
    shorten old IP addresses; one line per period with what it removed (run daily)."""
    for name, counts in retention.purge(int(time.time())).items():
        click.echo(f"IDP_{name}={current_app.config[name]}: "
                   + ", ".join(f"{count} {kind}" for kind, count in counts.items()))


@command("audit", read_only=True)
@click.option("--vhs", "slug", default=None, help="Events at this VHS only.")
@click.option("--email", default=None, help="Events of this address (and its accounts).")
@click.option("--since", default=None,
              help="From a date (2026-11-01), a time (2026-11-01T08:00, UTC) or an age "
                   "(24h, 7d).")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100_000))
def audit_command(slug: str | None, email: str | None, since: str | None, limit: int) -> None:
    """Print the audit trail, newest first: time, kind, VHS, person, client, source,
    reason, IP, actor, detail, and who acted in words as the event stored it at the time."""
    who = audit.persons(email, slug) if email else None
    for event in audit.events(slug, who, _since(since), limit):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(event.at))
        click.echo("\t".join(str(value or "-") for value in (
            when, event.kind, event.vhs, event.who, event.client_id, event.source,
            event.reason, event.ip, event.actor, event.detail, labels.acted_by(event))))


def _since(text: str | None) -> int | None:
    if not text:
        return None
    units = {"h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].isdigit():
        return int(time.time()) - int(text[:-1]) * units[text[-1]]
    try:
        return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())
    except ValueError:
        raise click.BadParameter("a date, a time or an age like 24h or 7d",
                                 param_hint="--since") from None
