"""``vhskoop-idp lifecycle run``: one lifecycle pass now (``idp.lifecycle``)."""

from __future__ import annotations

import time

import click

from .. import lifecycle, tenants
from .base import Group


@click.group("lifecycle", cls=Group)
def lifecycle_group() -> None:
    """Who left the Verwaltungsprogramm loses access everywhere, and is forgotten on time."""


@lifecycle_group.command("run")
@click.option("--vhs", "slug", default=None, help="This VHS only; without it, every VHS with "
              "a Verwaltungsprogramm.")
@click.option("--dry-run", is_flag=True, help="Ask the programs and say what would change; "
              "change nothing.")
def lifecycle_run(slug: str | None, dry_run: bool) -> None:
    """Ask the programs about every account that is due (IDP_LIFECYCLE_CHECK_HOURS), end
    the access of whoever they no longer list, close leavers after IDP_LEAVER_GRACE_DAYS and
    delete them after IDP_LEAVER_DELETE_DAYS; one line per VHS."""
    try:
        vhs = tenants.find(slug) if slug else None
    except tenants.TenantError as error:
        raise click.BadParameter(str(error), param_hint="--vhs") from None
    if vhs is not None and not vhs.adapter:
        raise click.BadParameter(f"VHS {vhs.slug} has no Verwaltungsprogramm",
                                 param_hint="--vhs")
    for done in lifecycle.run(int(time.time()), vhs, dry_run):
        click.echo(("(dry run) " if dry_run else "") + done.line())
