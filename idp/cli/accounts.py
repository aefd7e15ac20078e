"""``vhskoop-idp accounts ...``: local accounts as administrators make them."""

from __future__ import annotations

import click
from flask_babel import force_locale

from .. import accounts, tenants
from .base import Group, fail, read_secret


@click.group("accounts", cls=Group)
def accounts_group() -> None:
    """Local accounts."""


@accounts_group.command("add")
@click.option("--vhs", "vhs_slug", required=True)
@click.option("--email", required=True)
@click.option("--name", default=None, help="Display name (the 'name' claim).")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (never from the command line).")
def accounts_add(vhs_slug: str, email: str, name: str | None, password_stdin: bool) -> None:
    """Create an active local account (the password follows the same rules as any)."""
    try:
        with force_locale("en"):
            account = accounts.add_local(vhs_slug, email, read_secret(password_stdin), name)
    except (accounts.AccountError, tenants.TenantError) as error:
        fail(error)
    click.echo(f"added account {account.address} at {vhs_slug} (sub {account.sub})")


@accounts_group.command("list")
@click.option("--vhs", "vhs_slug", default=None)
def accounts_list(vhs_slug: str | None) -> None:
    """List accounts, optionally of one VHS."""
    for account in accounts.every(vhs_slug):
        click.echo(f"{account.vhs.slug}\t{account.address}\t{account.status}\t{account.sub}")
