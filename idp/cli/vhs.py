"""``vhskoop-idp vhs ...`` and ``kma ...``: the VHS, their Verwaltungsprogramm, mail server
and itm:PORTAL, and the Kursmanagement-APP links ITEM makes."""

from __future__ import annotations

import tomllib

import click

from adapters import registry
from adapters.base import AdapterConfigError, AdapterUnavailable
from adapters.directory import DirectoryFormatError

from .. import (
    directory,
    eligibility,
    factors,
    mail,
    notices,
    portals,
    privacy,
    programs,
    tenants,
)
from ..connectors.portal import CONNECT_TIMEOUT, READ_TIMEOUT, PortalSettings, default_url
from ..connectors.upstream import UpstreamSettings
from .base import Group, fail, operator, read_secret


def _vhs(slug: str):
    try:
        return tenants.find(slug)
    except tenants.TenantError as error:
        fail(error)


def _adapter_options(path: str | None) -> dict:
    if path is None:
        return {}
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        fail(f"cannot read the adapter configuration {path}: {error}")


@click.group("vhs", cls=Group)
def vhs_group() -> None:
    """Volkshochschulen (tenants)."""


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
        fail("--adapter-config needs --adapter")
    try:
        vhs = tenants.add(slug, name, onboarded, adapter, _adapter_options(adapter_config))
    except (tenants.TenantError, AdapterConfigError) as error:
        fail(error)
    click.echo(f"added VHS {vhs.slug} ({vhs.name}){', onboarded' if vhs.onboarded else ''}"
               f"{f', adapter {adapter}' if adapter else ''}")


@vhs_group.command("set")
@click.argument("slug")
@click.option("--name", default=None, help="A new display name.")
@click.option("--onboarded/--not-onboarded", default=None,
              help="Show it in the login drop-down, or not.")
def vhs_set(slug: str, name: str | None, onboarded: bool | None) -> None:
    """Rename a VHS, or put it in the login drop-down or take it out."""
    try:
        vhs = tenants.change(_vhs(slug), name, onboarded)
    except tenants.TenantError as error:
        fail(error)
    click.echo(f"VHS {vhs.slug} ({vhs.name}): {'onboarded' if vhs.onboarded else 'not onboarded'}")


@vhs_group.command("set-mfa")
@click.argument("slug")
@click.option("--required/--optional", required=True,
              help="Every account of the VHS needs a second factor (set up at the next "
                   "login), or each person decides.")
def vhs_set_mfa(slug: str, required: bool) -> None:
    """Require a second factor for a whole VHS, or not."""
    vhs = _vhs(slug)
    factors.set_policy(vhs, required, f"cli:{operator()}")
    click.echo(f"VHS {vhs.slug}: second factor {'required' if required else 'optional'}")


@vhs_group.command("set-privacy")
@click.argument("slug")
@click.option("--controller", default="", help="Who is responsible for the data (name, postal "
              "address, contact); empty: IDP_PRIVACY_CONTROLLER applies.")
@click.option("--dpo", default="", help="How to reach the VHS's data protection officer; "
              "empty: IDP_PRIVACY_DPO applies.")
def vhs_set_privacy(slug: str, controller: str, dpo: str) -> None:
    """Enter the VHS's own controller and data protection officer (the record of processing
    and the privacy notice name them)."""
    vhs = _vhs(slug)
    try:
        privacy.set_contacts(vhs, controller, dpo)
    except privacy.ContactError as error:
        raise click.BadParameter(str(error)) from None
    shown = {True: "entered", False: "as configured"}
    click.echo(f"VHS {vhs.slug}: controller {shown[bool(vhs.privacy_controller)]}, "
               f"data protection officer {shown[bool(vhs.privacy_dpo)]}")


@vhs_group.command("set-adapter")
@click.argument("slug")
@click.option("--adapter", help="The adapter; leave out with --none.")
@click.option("--adapter-config", type=click.Path(dir_okay=False))
@click.option("--none", "remove", is_flag=True, help="No adapter: administrator accounts only.")
def vhs_set_adapter(slug: str, adapter: str | None, adapter_config: str | None,
                    remove: bool) -> None:
    """Set or remove a VHS's Verwaltungsprogramm adapter."""
    if bool(adapter) == remove:
        fail("give either --adapter NAME or --none")
    try:
        eligibility.configure(_vhs(slug), None if remove else adapter,
                              _adapter_options(adapter_config))
    except AdapterConfigError as error:
        fail(error)
    click.echo(f"VHS {slug}: adapter {adapter or 'none'}")


@vhs_group.command("adapters", read_only=True)
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
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        count = directory.import_directory(vhs, data, "csv" if path.endswith(".csv")
                                             else "json")
    except (DirectoryFormatError, UnicodeDecodeError) as error:
        fail(error)
    click.echo(f"VHS {slug}: {count} entries")


@vhs_group.command("directory-token")
@click.argument("slug")
def vhs_directory_token(slug: str) -> None:
    """Make a new token for pushing the user list (the old one stops working)."""
    token = tenants.new_directory_token(_vhs(slug))
    click.echo(f"directory token for {slug} (shown once): {token}")
    click.echo(f"push with: PUT /api/v1/vhs/{slug}/directory, Authorization: Bearer <token>")


@vhs_group.command("list", read_only=True)
def vhs_list() -> None:
    """List every VHS."""
    for vhs in tenants.every():
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
    settings = mail.MailSettings(host=host, port=port, security=security, sender=sender,
                                 user=user, password=read_secret(password_stdin))
    try:
        mail.set_settings(_vhs(slug), settings)
    except mail.MailSettingsError as error:
        fail(error)
    click.echo(f"VHS {slug}: mail via {host}:{port} ({security}) from {sender}")


@vhs_group.command("test-mail")
@click.argument("slug")
@click.argument("address")
def vhs_test_mail(slug: str, address: str) -> None:
    """Send a test mail through the VHS's mail server now (not through the outbox)."""
    try:
        sent_to, host = notices.send_test(_vhs(slug), address)
    except mail.DialogueFailed as error:
        fail(f"the mail server refused or did not answer {error}")
    except ValueError as error:
        fail(error)
    click.echo(f"test mail to {sent_to} handed to {host}")


@vhs_group.command("test-program")
@click.argument("slug")
def vhs_test_program(slug: str) -> None:
    """Ask the VHS's Verwaltungsprogramm about an address nobody has, and time it."""
    vhs = _vhs(slug)
    try:
        decision, milliseconds = programs.probe(vhs)
    except LookupError as error:
        fail(error)
    except AdapterUnavailable as error:
        fail(f"adapter {vhs.adapter}: the Verwaltungsprogramm cannot be reached: {error}")
    click.echo(f"adapter {vhs.adapter} answered {decision.status!r} in {milliseconds} ms")


@vhs_group.command("set-portal")
@click.argument("slug")
@click.option("--base-url", help=f"Default {default_url('SLUG')}.")
@click.option("--credential-stdin", is_flag=True, help="Read the portal's API credential.")
@click.option("--connect-timeout", type=float, help=f"Seconds; default {CONNECT_TIMEOUT:g}.")
@click.option("--read-timeout", type=float, help=f"Seconds; default {READ_TIMEOUT:g}.")
@click.option("--none", "remove", is_flag=True, help="This VHS has no itm:PORTAL logins.")
def vhs_set_portal(slug, base_url, credential_stdin, connect_timeout, read_timeout,
                   remove) -> None:
    """Let the VHS's itm:PORTAL check its users' passwords (the credential is encrypted)."""
    if not remove and not credential_stdin:
        fail("give the portal's API credential with --credential-stdin (or --none)")
    settings = None if remove else PortalSettings.of_vhs(
        slug, read_secret(True).strip(), base_url, connect_timeout, read_timeout)
    _connect(slug, portals.configure, settings, "itm:PORTAL")


def _connect(slug: str, configure, settings: PortalSettings | None, what: str) -> None:
    """Give the VHS a password API (``configure`` checks the settings) and say so."""
    try:
        configure(_vhs(slug), settings)
    except ValueError as error:
        fail(error)
    click.echo(f"VHS {slug}: {what} at {settings.base_url}" if settings
               else f"VHS {slug}: no {what}")


@vhs_group.command("set-legacy-login")
@click.argument("slug")
@click.option("--base-url", help="The old login's base URL (it answers /api/idp/v1/verify).")
@click.option("--credential-stdin", is_flag=True, help="Read its API credential.")
@click.option("--none", "remove", is_flag=True, help="Use IDP_LEGACY_LOGIN_URL, if set.")
def vhs_set_legacy_login(slug, base_url, credential_stdin, remove) -> None:
    """Let the VHS's old login confirm, once, the password of an imported account that
    came without a hash (the credential is encrypted); before IDP_LEGACY_LOGIN_URL."""
    if not remove and not (base_url and credential_stdin):
        fail("give --base-url and --credential-stdin (or --none)")
    settings = None if remove else PortalSettings(
        base_url=base_url, credential=read_secret(True).strip())
    _connect(slug, portals.configure_legacy_login, settings, "old login of its own")


@vhs_group.command("set-upstream")
@click.argument("slug")
@click.option("--issuer", help="The portal's OpenID Connect issuer URL.")
@click.option("--client-id", help="Our client id there.")
@click.option("--client-secret-stdin", is_flag=True, help="Read our client secret there.")
@click.option("--none", "remove", is_flag=True, help="No \"Mit itm:PORTAL anmelden\".")
def vhs_set_upstream(slug, issuer, client_id, client_secret_stdin, remove) -> None:
    """Offer "Mit itm:PORTAL anmelden" through the portal's OpenID Connect provider."""
    if not remove and not (issuer and client_id and client_secret_stdin):
        fail("give --issuer, --client-id and --client-secret-stdin (or --none)")
    settings = None if remove else UpstreamSettings(
        issuer=issuer, client_id=client_id, client_secret=read_secret(True).strip())
    try:
        callback = portals.configure_upstream(_vhs(slug), settings)
    except ValueError as error:
        fail(error)
    click.echo(f"VHS {slug}: upstream provider {issuer} (redirect URI to register there: "
               f"{callback})" if settings else f"VHS {slug}: no upstream provider")


@click.group("kma", cls=Group)
def kma_group() -> None:
    """Kursmanagement-APP links (made by ITEM)."""


@kma_group.command("link")
@click.option("--vhs", "slug", required=True)
@click.option("--email", required=True)
def kma_link(slug: str, email: str) -> None:
    """Record that ITEM linked this user for the VHS."""
    click.echo(f"linked {directory.link(_vhs(slug), email)} at {slug}")


@kma_group.command("unlink")
@click.option("--vhs", "slug", required=True)
@click.option("--email", required=True)
def kma_unlink(slug: str, email: str) -> None:
    """Remove a link."""
    if not directory.unlink(_vhs(slug), email):
        fail(f"{email} had no link at {slug}")
    click.echo(f"unlinked {email} at {slug}")


@kma_group.command("list", read_only=True)
@click.option("--vhs", "slug", default=None)
def kma_list(slug: str | None) -> None:
    """List the links."""
    for vhs_slug, address in directory.links(slug):
        click.echo(f"{vhs_slug}\t{address}")
