"""``vhskoop-idp admins ...``: who may use the console (``/admin``)."""

from __future__ import annotations

import click

from .. import roles, tenants
from ..models import Role
from .base import Group, fail, operator


@click.group("admins", cls=Group)
def admins_group() -> None:
    """Console roles: VHS administrators and ITEM operators."""


@admins_group.command("grant")
@click.option("--vhs", "vhs_slug", required=True, help="The VHS of the account.")
@click.option("--email", required=True, help="The account's address there.")
@click.option("--operator", "is_operator", is_flag=True,
              help="An ITEM operator (every VHS), not an administrator of this VHS.")
def admins_grant(vhs_slug: str, email: str, is_operator: bool) -> None:
    """Make the account an administrator of its VHS (or an ITEM operator)."""
    role = Role.OPERATOR if is_operator else Role.ADMIN
    try:
        held = roles.grant(vhs_slug, email, role, by=f"cli:{operator()}")
    except (roles.RoleError, tenants.TenantError) as error:
        fail(error)
    what = "ITEM operator" if is_operator else f"administrator of {vhs_slug}"
    click.echo(f"{held.account.address} at {vhs_slug} is now {what}")


@admins_group.command("revoke")
@click.option("--vhs", "vhs_slug", required=True)
@click.option("--email", required=True)
def admins_revoke(vhs_slug: str, email: str) -> None:
    """Take the console role away."""
    try:
        revoked = roles.revoke(vhs_slug, email)
    except (roles.RoleError, tenants.TenantError) as error:
        fail(error)
    if not revoked:
        fail(f"{email} at {vhs_slug} held no console role")
    click.echo(f"{email} at {vhs_slug} holds no console role any more")


@admins_group.command("list", read_only=True)
def admins_list() -> None:
    """List the console roles."""
    for held in roles.every():
        click.echo(f"{held.account.vhs.slug}\t{held.account.address}\t{held.role}")
