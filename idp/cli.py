"""The ``vhskoop-idp`` command: a Flask CLI group with the provider's own commands.

``run``, ``shell`` and ``routes`` are Flask's; ``run`` first checks the database schema
and the signing keys, like the WSGI entry point does.
"""

from __future__ import annotations

import os
import sys
import time

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup, ScriptInfo, routes_command, run_command, shell_command
from flask.cli import with_appcontext
from sqlalchemy import select

from . import accounts, db
from .clients import Registration, RegistrationError, register
from .models import Account, Client, Vhs
from .signing import signing


def _create_app(overrides: dict | None = None) -> Flask:
    from . import create_app
    from .config import ConfigError

    try:
        return create_app(overrides)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def prepare(app: Flask) -> None:
    """What must hold before serving: a current schema and a complete keyring."""
    try:
        db.require_current(app)
    except db.SchemaBehind as error:
        raise click.ClickException(str(error)) from None
    with app.app_context():
        signing(app).keyring()


@click.command("run", params=run_command.params, help=run_command.help)
@click.pass_context
def run(ctx: click.Context, **kwargs) -> None:
    """Check schema and keys, then Flask's development server."""
    prepare(ctx.ensure_object(ScriptInfo).load_app())
    ctx.forward(run_command)


main = FlaskGroup(
    name="vhskoop-idp",
    create_app=_create_app,
    add_default_commands=False,
    set_debug_flag=False,
    load_dotenv=False,
    help="The vhsKOOP OpenID Connect provider.",
)
main.add_command(run)
main.add_command(shell_command)
main.add_command(routes_command)


def init_app(app: Flask) -> None:
    """Register the provider's commands on the app."""
    for group in (db_group, vhs_group, clients_group, accounts_group, keys_group, purge):
        app.cli.add_command(group)


def _fail(error: Exception) -> None:
    raise click.ClickException(str(error))


@click.group("db", cls=AppGroup)
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations."""
    from flask import current_app

    db.upgrade(current_app, revision)
    current, _ = db.revisions(current_app)
    click.echo(f"database at revision {', '.join(sorted(current))}")


@db_group.command("current")
def db_current() -> None:
    """Show the database's revision and the code's."""
    from flask import current_app

    current, heads = db.revisions(current_app)
    click.echo(f"database: {', '.join(sorted(current)) or 'empty'}")
    click.echo(f"code:     {', '.join(sorted(heads))}")
    if current != heads:
        sys.exit(1)


@click.group("vhs", cls=AppGroup)
def vhs_group() -> None:
    """Volkshochschulen (tenants)."""


@vhs_group.command("add")
@click.argument("slug")
@click.option("--name", required=True, help='Display name, e.g. "vhs Straubing".')
@click.option("--onboarded", is_flag=True, help="Show it in the login drop-down.")
def vhs_add(slug: str, name: str, onboarded: bool) -> None:
    """Add a VHS."""
    try:
        vhs = accounts.add_vhs(slug, name, onboarded)
    except accounts.AccountError as error:
        _fail(error)
    click.echo(f"added VHS {vhs.slug} ({vhs.name}){', onboarded' if vhs.onboarded else ''}")


@vhs_group.command("list")
def vhs_list() -> None:
    """List every VHS."""
    for vhs in db.session().scalars(select(Vhs).order_by(Vhs.slug)):
        click.echo(f"{vhs.slug}\t{vhs.name}\t{'onboarded' if vhs.onboarded else 'not onboarded'}")


@click.group("clients", cls=AppGroup)
def clients_group() -> None:
    """Relying parties."""


@clients_group.command("add")
@click.argument("client_id")
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout_uris", multiple=True)
@click.option("--public", is_flag=True, help="No secret; PKCE required (browser and native apps).")
@click.option("--first-party", is_flag=True, help="Skip the consent page (ITEM's own services).")
@click.option("--secret", help="Use this secret (32+ characters) instead of a generated one.")
@click.option("--grant", "grants", multiple=True,
              type=click.Choice(["authorization_code", "refresh_token", "client_credentials"]),
              help="Repeatable; default authorization_code.")
@click.option("--scope", default="openid profile email", show_default=True)
@click.option("--id-token-alg", default="RS256", show_default=True,
              type=click.Choice(["RS256", "ES256"]))
def clients_add(client_id, redirect_uris, post_logout_uris, public, first_party, secret,
                grants, scope, id_token_alg) -> None:
    """Register a client. A generated secret is printed once; only its hash is stored."""
    reg = Registration(
        client_id=client_id,
        redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout_uris),
        public=public,
        first_party=first_party,
        secret=secret,
        grants=list(grants) or ["authorization_code"],
        scope=scope,
        id_token_alg=id_token_alg,
    )
    try:
        client, generated = register(reg)
    except RegistrationError as error:
        _fail(error)
    kind = "public" if client.public else "confidential"
    click.echo(f"added {kind} client {client.client_id}")
    if generated:
        click.echo(f"client secret (shown once, store it now): {generated}")


@clients_group.command("list")
def clients_list() -> None:
    """List the clients (never their secrets)."""
    for client in db.session().scalars(select(Client).order_by(Client.client_id)):
        kind = "public" if client.public else "confidential"
        party = "first-party" if client.first_party else "third-party"
        click.echo(f"{client.client_id}\t{kind}\t{party}\t{' '.join(client.grant_types)}\t"
                   f"{client.scope}\t{' '.join(client.redirect_uris)}")


@click.group("accounts", cls=AppGroup)
def accounts_group() -> None:
    """Local accounts."""


@accounts_group.command("add")
@click.option("--vhs", "vhs_slug", required=True)
@click.option("--email", required=True)
@click.option("--name", default=None, help="Display name (the 'name' claim).")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (never from the command line).")
def accounts_add(vhs_slug: str, email: str, name: str | None, password_stdin: bool) -> None:
    """Create an active local account."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        account = accounts.add_local(vhs_slug, email, password, name)
    except accounts.AccountError as error:
        _fail(error)
    click.echo(f"added account {account.address} at {vhs_slug} (sub {account.sub})")


@accounts_group.command("list")
@click.option("--vhs", "vhs_slug", default=None)
def accounts_list(vhs_slug: str | None) -> None:
    """List accounts, optionally of one VHS."""
    query = select(Account).join(Vhs).order_by(Vhs.slug, Account.address)
    if vhs_slug:
        query = query.where(Vhs.slug == vhs_slug)
    for account in db.session().scalars(query):
        click.echo(f"{account.vhs.slug}\t{account.address}\t{account.status}\t{account.sub}")


@click.command("purge")
@click.option("--older-than-days", default=7, show_default=True, type=click.IntRange(1, 3650))
@with_appcontext
def purge(older_than_days: int) -> None:
    """Delete tokens, codes and SSO sessions that ended that many days ago (run daily)."""
    from .tokens import purge_expired

    removed = purge_expired(int(time.time()) - older_than_days * 86400)
    click.echo(", ".join(f"{count} {kind}" for kind, count in removed.items()) + " removed")


@click.group("keys", cls=AppGroup)
def keys_group() -> None:
    """Signing keys."""


@keys_group.command("list")
def keys_list() -> None:
    """List the keys with state and retirement time."""
    for key in signing().keyring().keys:
        until = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(key.retire_until)) + " UTC" \
            if key.retire_until else ""
        click.echo(f"{key.kid}\t{key.alg}\t{key.state}\t{until}")


@keys_group.command("rotate")
def keys_rotate() -> None:
    """Promote next to current, retire current, create a new next."""
    from keys import rotate

    keys = signing()
    keyring = keys.store.update(lambda current: rotate(current, int(time.time()), keys.policy))
    keys.forget()
    for key in keyring.keys:
        click.echo(f"{key.kid}\t{key.alg}\t{key.state}")
    click.echo(f"running instances pick this up within {keys.reload_seconds} seconds")


@main.command("demo", with_appcontext=False)
@click.option("--port", default=5000, show_default=True)
def demo(port: int) -> None:
    """Run the provider in development mode with a demo VHS, account and client."""
    os.environ.setdefault("IDP_ENV", "development")
    os.environ.setdefault("IDP_ISSUER", f"http://127.0.0.1:{port}")
    from .demo import seed

    app = _create_app({"DEMO": True})
    prepare(app)
    with app.app_context():
        for line in seed():
            click.echo(line)
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", port, app, threaded=True)
