"""``vhskoop-idp db ...``, ``diagnose`` and ``purge``: running an installation."""

from __future__ import annotations

import sys
import time

import click
from flask import current_app

from .. import db, diagnose, tokens
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


@db_group.command("current")
def db_current() -> None:
    """Show the database's revision and the code's; exit 1 when they differ."""
    current, heads = db.revisions(current_app)
    click.echo(f"database: {', '.join(sorted(current)) or 'empty'}")
    click.echo(f"code:     {', '.join(sorted(heads))}")
    if current != heads:
        sys.exit(1)


@command("diagnose")
@click.option("--vhs", "slug", required=True)
@click.option("--email", required=True)
def diagnose_command(slug: str, email: str) -> None:
    """Run every check of the help page; exit 0 when the person could get access."""
    findings, access = diagnose.diagnose(slug, email)
    for finding in findings:
        click.echo(finding.line())
    click.echo("=> could get access" if access else "=> cannot get access")
    sys.exit(0 if access else 1)


@command("purge")
@click.option("--older-than-days", default=7, show_default=True, type=click.IntRange(1, 3650))
def purge(older_than_days: int) -> None:
    """Delete tokens, codes and SSO sessions that ended that many days ago (run daily)."""
    removed = tokens.purge_expired(int(time.time()) - older_than_days * 86400)
    click.echo(", ".join(f"{count} {kind}" for kind, count in removed.items()) + " removed")
