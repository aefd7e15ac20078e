"""The ``vhskoop-idp`` command: a Flask CLI group with the provider's own commands.

``run``, ``shell`` and ``routes`` are Flask's; ``run`` first checks the database schema
and the signing keys, like the WSGI entry point does.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import sys
import time
import tomllib

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup, ScriptInfo, routes_command, run_command, shell_command
from flask.cli import with_appcontext
from sqlalchemy import select

from adapters import directory, registry
from adapters.address import clean, is_plausible
from adapters.base import AdapterConfigError

from . import accounts, db, eligibility, mail, portals
from .clients import Registration, RegistrationError, register
from .models import Account, Client, KmaLink, OutboxMail, Vhs, digest
from .selfservice import SUBJECTS
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
    for group in (db_group, vhs_group, clients_group, accounts_group, keys_group, kma_group,
                  diagnose_command, purge, mail_worker):
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


def _adapter_options(path: str | None) -> dict:
    if path is None:
        return {}
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise click.ClickException(
            f"cannot read the adapter configuration {path}: {error}") from None


def _set_adapter(vhs: Vhs, adapter: str | None, config_path: str | None) -> None:
    try:
        eligibility.configure(vhs, adapter, _adapter_options(config_path))
    except AdapterConfigError as error:
        db.session().rollback()
        _fail(error)


@vhs_group.command("add")
@click.argument("slug")
@click.option("--name", required=True, help='Display name, e.g. "vhs Straubing".')
@click.option("--onboarded", is_flag=True, help="Show it in the login drop-down.")
@click.option("--adapter", help="The Verwaltungsprogramm adapter (see `vhs adapters`).")
@click.option("--adapter-config", type=click.Path(dir_okay=False),
              help="TOML file with the adapter's options; stored encrypted.")
def vhs_add(slug: str, name: str, onboarded: bool, adapter: str | None,
            adapter_config: str | None) -> None:
    """Add a VHS."""
    if adapter_config and not adapter:
        _fail(ValueError("--adapter-config needs --adapter"))
    options = _adapter_options(adapter_config)
    try:
        vhs = accounts.add_vhs(slug, name, onboarded, commit=False)
        if adapter:
            eligibility.configure(vhs, adapter, options)
        db.session().commit()
    except (accounts.AccountError, AdapterConfigError) as error:
        db.session().rollback()
        _fail(error)
    click.echo(f"added VHS {vhs.slug} ({vhs.name}){', onboarded' if vhs.onboarded else ''}"
               f"{f', adapter {adapter}' if adapter else ''}")


@vhs_group.command("set-adapter")
@click.argument("slug")
@click.option("--adapter", help="The adapter; leave out with --none.")
@click.option("--adapter-config", type=click.Path(dir_okay=False))
@click.option("--none", "remove", is_flag=True, help="No adapter: administrator accounts only.")
def vhs_set_adapter(slug: str, adapter: str | None, adapter_config: str | None,
                    remove: bool) -> None:
    """Set or remove a VHS's Verwaltungsprogramm adapter."""
    if bool(adapter) == remove:
        _fail(ValueError("give either --adapter NAME or --none"))
    vhs = _vhs(slug)
    _set_adapter(vhs, None if remove else adapter, adapter_config)
    click.echo(f"VHS {slug}: adapter {adapter or 'none'}")


@vhs_group.command("adapters")
def vhs_adapters() -> None:
    """List the registered adapters."""
    for name in registry.available():
        click.echo(name)


@vhs_group.command("import-directory")
@click.argument("slug")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def vhs_import_directory(slug: str, path: str) -> None:
    """Replace the VHS's pushed user list (adapter directory) from a CSV or JSON file."""
    vhs = _vhs(slug)
    try:
        with open(path, "rb") as handle:
            entries = directory.parse(handle.read(), "csv" if path.endswith(".csv") else "json")
    except directory.DirectoryFormatError as error:
        _fail(error)
    click.echo(f"VHS {slug}: {eligibility.replace_directory(vhs, entries)} entries")


@vhs_group.command("directory-token")
@click.argument("slug")
def vhs_directory_token(slug: str) -> None:
    """Make a new token for pushing the user list (the old one stops working)."""
    vhs = _vhs(slug)
    token = secrets.token_urlsafe(32)
    vhs.directory_token_hash = digest(token)
    db.session().commit()
    click.echo(f"directory token for {slug} (shown once): {token}")
    click.echo(f"push with: PUT /api/v1/vhs/{slug}/directory, Authorization: Bearer <token>")


@vhs_group.command("list")
def vhs_list() -> None:
    """List every VHS."""
    for vhs in db.session().scalars(select(Vhs).order_by(Vhs.slug)):
        state = "onboarded" if vhs.onboarded else "not onboarded"
        mail_state = "mail: set" if vhs.mail_config else "mail: NOT SET (mails wait)"
        click.echo(f"{vhs.slug}\t{vhs.name}\t{state}\tadapter: {vhs.adapter or 'none'}\t"
                   f"{mail_state}")


@vhs_group.command("set-mail")
@click.argument("slug")
@click.option("--host", required=True, help="The VHS's own SMTP server.")
@click.option("--port", type=int, default=587, show_default=True)
@click.option("--security", type=click.Choice(mail.SECURITY), default="starttls",
              show_default=True)
@click.option("--sender", required=True,
              help='"E-Mail Adresse für den Empfang von allgemeinen Nachrichten".')
@click.option("--user", default="")
@click.option("--password-stdin", is_flag=True, help="Read the SMTP password from stdin.")
def vhs_set_mail(slug, host, port, security, sender, user, password_stdin) -> None:
    """Set the VHS's mail server and sender; the password is stored encrypted."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else ""
    try:
        mail.set_settings(_vhs(slug), mail.MailSettings(host=host, port=port,
                                                        security=security, sender=sender,
                                                        user=user, password=password))
    except mail.MailSettingsError as error:
        _fail(error)
    click.echo(f"VHS {slug}: mail via {host}:{port} ({security}) from {sender}")


@vhs_group.command("test-mail")
@click.argument("slug")
@click.argument("address")
def vhs_test_mail(slug: str, address: str) -> None:
    """Send a test mail through the VHS's mail server now (not through the outbox)."""
    from email.utils import make_msgid
    from urllib.parse import urlsplit

    from flask import current_app, render_template

    vhs = _vhs(slug)
    settings = mail.settings_of(vhs)
    if settings is None:
        _fail(ValueError(f"VHS {slug} has no mail settings (vhs set-mail)"))
    if not is_plausible(clean(address).value):
        _fail(ValueError(f"not an e-mail address: {address!r}"))
    text = render_template("mail/test.txt", vhs=vhs)
    row = OutboxMail(vhs_id=vhs.id, recipient=clean(address).value, kind="test", locale="de",
                     subject=str(SUBJECTS["test"]), text_body=text,
                     html_body=render_template("mail/base.html", body=text, vhs=vhs, link=None),
                     message_id=make_msgid(domain=urlsplit(current_app.config["ISSUER"])
                                           .hostname), created_at=int(time.time()))
    try:
        mail.send(settings, mail.message(settings, row))
    except (smtplib.SMTPException, OSError) as error:
        _fail(ValueError(f"the mail server refused or did not answer: {error}"))
    click.echo(f"test mail to {row.recipient} handed to {settings.host}")


@vhs_group.command("set-portal")
@click.argument("slug")
@click.option("--base-url", help="Default https://SLUG.meine-vhs.de.")
@click.option("--credential-stdin", is_flag=True, help="Read the portal's API credential.")
@click.option("--connect-timeout", default=2.0, show_default=True)
@click.option("--read-timeout", default=5.0, show_default=True)
@click.option("--none", "remove", is_flag=True, help="This VHS has no itm:PORTAL logins.")
def vhs_set_portal(slug, base_url, credential_stdin, connect_timeout, read_timeout,
                   remove) -> None:
    """Let the VHS's itm:PORTAL check its users' passwords (the credential is encrypted)."""
    from .connectors.portal import PortalSettings

    vhs = _vhs(slug)
    if remove:
        portals.configure(vhs, None)
        click.echo(f"VHS {slug}: no itm:PORTAL")
        return
    if not credential_stdin:
        _fail(ValueError("give the portal's API credential with --credential-stdin"))
    settings = PortalSettings(base_url=base_url or f"https://{slug}.meine-vhs.de",
                              credential=sys.stdin.readline().strip(),
                              connect_timeout=connect_timeout, read_timeout=read_timeout)
    try:
        portals.configure(vhs, settings)
    except ValueError as error:
        _fail(error)
    click.echo(f"VHS {slug}: itm:PORTAL at {settings.base_url}")


@vhs_group.command("set-upstream")
@click.argument("slug")
@click.option("--issuer", help="The portal's OpenID Connect issuer URL.")
@click.option("--client-id", help="Our client id there.")
@click.option("--client-secret-stdin", is_flag=True, help="Read our client secret there.")
@click.option("--none", "remove", is_flag=True, help="No \"Mit itm:PORTAL anmelden\".")
def vhs_set_upstream(slug, issuer, client_id, client_secret_stdin, remove) -> None:
    """Offer "Mit itm:PORTAL anmelden" through the portal's OpenID Connect provider."""
    from . import upstream

    vhs = _vhs(slug)
    if remove:
        upstream.configure(vhs, None)
        click.echo(f"VHS {slug}: no upstream provider")
        return
    if not (issuer and client_id and client_secret_stdin):
        _fail(ValueError("give --issuer, --client-id and --client-secret-stdin (or --none)"))
    settings = upstream.UpstreamSettings(issuer=issuer, client_id=client_id,
                                         client_secret=sys.stdin.readline().strip())
    try:
        upstream.configure(vhs, settings)
    except ValueError as error:
        _fail(error)
    click.echo(f"VHS {slug}: upstream provider {issuer} (redirect URI to register there: "
               f"{current_app_issuer()}/upstream/callback)")


def current_app_issuer() -> str:
    """The configured issuer (for messages)."""
    from flask import current_app

    return current_app.config["ISSUER"]


@main.command("portal-sim", with_appcontext=False)
@click.option("--port", default=8081, show_default=True)
@click.option("--users", "users_path", required=True, type=click.Path(exists=True))
@click.option("--credential", required=True, help="The bearer credential it accepts.")
@click.option("--mode", type=click.Choice(["normal", "slow", "error", "html", "redirect",
                                           "truncated", "huge", "garbage"]), default="normal")
def portal_sim(port: int, users_path: str, credential: str, mode: str) -> None:
    """Run the itm:PORTAL simulator on 127.0.0.1 (tests, benchmark, demo)."""
    from .connectors.portal_sim import PortalSimulator, users_file

    try:
        users = users_file(users_path)
    except (OSError, ValueError) as error:
        _fail(error)
    simulator = PortalSimulator(users, credential, port=port, mode=mode)
    click.echo(f"itm:PORTAL simulator at {simulator.url} ({len(users)} users, mode {mode})")
    try:
        simulator.server.serve_forever()
    except KeyboardInterrupt:
        simulator.server.server_close()


@click.command("mail-worker")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="One round, then exit (cron).")
@with_appcontext
def mail_worker(interval: float, once: bool) -> None:
    """Deliver the outbox (run one or more of these in production)."""
    import signal
    import threading

    from flask import current_app

    if once:
        counts = mail.deliver_due()
        click.echo(", ".join(f"{n} {kind}" for kind, n in counts.items()))
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    mail.run_worker(current_app._get_current_object(), interval, stop)


def _vhs(slug: str) -> Vhs:
    try:
        return accounts.find_vhs(slug)
    except accounts.AccountError as error:
        _fail(error)


@click.group("kma", cls=AppGroup)
def kma_group() -> None:
    """Kursmanagement-APP links (made by ITEM)."""


@kma_group.command("link")
@click.option("--vhs", "slug", required=True)
@click.option("--email", required=True)
def kma_link(slug: str, email: str) -> None:
    """Record that ITEM linked this user for the VHS."""
    click.echo(f"linked {eligibility.link(_vhs(slug), email)} at {slug}")


@kma_group.command("unlink")
@click.option("--vhs", "slug", required=True)
@click.option("--email", required=True)
def kma_unlink(slug: str, email: str) -> None:
    """Remove a link."""
    if not eligibility.unlink(_vhs(slug), email):
        _fail(ValueError(f"{email} had no link at {slug}"))
    click.echo(f"unlinked {email} at {slug}")


@kma_group.command("list")
@click.option("--vhs", "slug", default=None)
def kma_list(slug: str | None) -> None:
    """List the links."""
    query = select(Vhs.slug, KmaLink.address).join(Vhs).order_by(Vhs.slug, KmaLink.address)
    if slug:
        query = query.where(Vhs.slug == slug)
    for vhs_slug, address in db.session().execute(query):
        click.echo(f"{vhs_slug}\t{address}")


@click.command("diagnose")
@click.option("--vhs", "slug", required=True)
@click.option("--email", required=True)
@with_appcontext
def diagnose_command(slug: str, email: str) -> None:
    """Run every check of the help page; exit 0 when the person could get access."""
    from .diagnose import diagnose

    findings, access = diagnose(slug, email)
    for finding in findings:
        click.echo(finding.line())
    click.echo("=> could get access" if access else "=> cannot get access")
    sys.exit(0 if access else 1)


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
@click.option("--backchannel-logout-uri", default=None,
              help="Where OIDC Back-Channel Logout tokens are POSTed.")
def clients_add(client_id, redirect_uris, post_logout_uris, public, first_party, secret,
                grants, scope, id_token_alg, backchannel_logout_uri) -> None:
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
        backchannel_logout_uri=backchannel_logout_uri,
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
    from .demo import DemoMailbox, seed

    app = _create_app({"DEMO": True})
    prepare(app)
    mailbox = DemoMailbox()
    mail.start_background_worker(app)
    with app.app_context():
        for line in seed(mailbox):
            click.echo(line)
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", port, app, threaded=True)
