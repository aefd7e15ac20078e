"""``vhskoop-idp accounts ...``: local accounts as administrators make them."""

from __future__ import annotations

import click
from flask_babel import force_locale

from adapters.address import clean

from .. import accounts, factors, tenants
from .base import Group, fail, operator, read_secret


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


def _account(vhs_slug: str, email: str):
    try:
        account = accounts.find(tenants.find(vhs_slug), clean(email).value)
    except tenants.TenantError as error:
        fail(error)
    if account is None:
        fail(f"{email} has no account at {vhs_slug}")
    return account


@accounts_group.command("disable")
@click.option("--vhs", "vhs_slug", required=True)
@click.option("--email", required=True)
def accounts_disable(vhs_slug: str, email: str) -> None:
    """Disable an account: its sessions end and its tokens are revoked."""
    account = _account(vhs_slug, email)
    if not accounts.disable(account):
        fail(f"{account.address} at {vhs_slug} is disabled already")
    click.echo(f"disabled {account.address} at {vhs_slug}")


@accounts_group.command("enable")
@click.option("--vhs", "vhs_slug", required=True)
@click.option("--email", required=True)
def accounts_enable(vhs_slug: str, email: str) -> None:
    """Enable a disabled account again."""
    account = _account(vhs_slug, email)
    if not accounts.enable(account):
        fail(f"{account.address} at {vhs_slug} is not disabled")
    click.echo(f"enabled {account.address} at {vhs_slug}: {account.status}")


@accounts_group.command("reset-mfa")
@click.option("--vhs", "vhs_slug", required=True)
@click.option("--email", required=True)
def accounts_reset_mfa(vhs_slug: str, email: str) -> None:
    """Remove every second factor and recovery code of an account (its owner lost them);
    the person is told by mail and sets up a new factor at the next login."""
    account = _account(vhs_slug, email)
    if not factors.reset(account, f"cli:{operator()}"):
        fail(f"{account.address} at {vhs_slug} has no second factor")
    click.echo(f"reset the second factors of {account.address} at {vhs_slug}")
