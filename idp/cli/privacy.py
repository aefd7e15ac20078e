"""``vhskoop-idp privacy record``: the record of processing activities (GDPR Art. 30), made
from the running configuration (``idp.privacy``)."""

from __future__ import annotations

import click
from flask import render_template
from flask_babel import force_locale

from .. import privacy, tenants
from .base import Group


@click.group("privacy", cls=Group)
def privacy_group() -> None:
    """What the provider tells data protection officers."""


@privacy_group.command("record", read_only=True)
@click.option("--vhs", "slug", default=None, help="The record of this VHS; without it, the "
              "installation's (every service, every VHS's programs).")
@click.option("--format", "shape", type=click.Choice(["markdown", "html"]), default="markdown",
              show_default=True)
@click.option("--lang", type=click.Choice(["de", "en"]), default="de", show_default=True)
def privacy_record(slug: str | None, shape: str, lang: str) -> None:
    """Print the record of processing activities (Verzeichnis der
    Verarbeitungstätigkeiten), as configured now."""
    try:
        vhs = tenants.find(slug) if slug else None
    except tenants.TenantError as error:
        raise click.BadParameter(str(error), param_hint="--vhs") from None
    with force_locale(lang):
        made = privacy.record(vhs)
        if shape == "html":
            click.echo(render_template("privacy_record.html", record=made, lang=lang))
        else:
            click.echo(privacy.markdown(made))
