"""``vhskoop-idp accounts ...``: local accounts as administrators make them."""

from __future__ import annotations

import csv
import io
import sys
import time

import click
from flask_babel import force_locale
from sqlalchemy.exc import IntegrityError

from adapters.address import clean

from .. import accounts, audit, deletion, factors, imports, leavers, selfservice, tenants
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


@accounts_group.command("list", read_only=True)
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


@accounts_group.command("keep")
@click.option("--vhs", "vhs_slug", required=True)
@click.option("--email", required=True)
@click.option("--until", required=True, help="The last day of the exception (2027-03-31).")
@click.option("--reason", required=True, help="Why (shown in the console).")
def accounts_keep(vhs_slug: str, email: str, until: str, reason: str) -> None:
    """"Zugang behalten": neither closed nor deleted as a leaver or for inactivity before
    the end of --until (at most a year ahead)."""
    account = _account(vhs_slug, email)
    try:
        leavers.keep(account, leavers.end_of_day(until), reason, int(time.time()))
    except leavers.KeepError as error:
        raise click.BadParameter(str(error)) from None
    click.echo(f"kept {account.address} at {vhs_slug} until {until[:10]}")


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


@accounts_group.command("delete")
@click.option("--vhs", "vhs_slug", required=True)
@click.option("--email", required=True)
@click.option("--yes", is_flag=True, help="Delete without asking (for scripts).")
def accounts_delete(vhs_slug: str, email: str, yes: bool) -> None:
    """Delete an account and every row about it (GDPR Art. 17): its sessions end and the
    services that shared them are told (back-channel logout); its tokens, second factors,
    consents, help requests, mails to the address and the program's cached answers go. The
    audit keeps its events under the pseudonym. An itm:PORTAL login stays at the portal;
    "Neuer Zugang" later makes a new account."""
    account = _account(vhs_slug, email)
    address = account.address
    if not yes:
        click.confirm(f"Delete {address} at {vhs_slug} and everything held about it?",
                      abort=True)
    gone = deletion.delete(account)
    click.echo(f"deleted {address} at {vhs_slug}: {gone.sessions} sessions, {gone.tokens} "
               f"tokens, {gone.help_requests} help requests, {gone.mails} mails, "
               f"{gone.eligibility_answers} answers of the program")


@accounts_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Check and report; change nothing.")
@click.option("--notify", is_flag=True,
              help="Mail each imported person once, from their VHS's server.")
@click.option("--locale", type=click.Choice(["de", "en"]), default="de", show_default=True,
              help="The language of the mails.")
@click.option("--format", "kind", type=click.Choice(["csv", "jsonl"]), default=None,
              help="csv or jsonl (default: from the file name; .csv is CSV).")
def accounts_import(path: str, dry_run: bool, notify: bool, locale: str,
                    kind: str | None) -> int | None:
    """Import the accounts of the login this provider replaces (CSV with a header row,
    or JSON lines; fields vhs, email, name, legacy_id, password_hash, state, and
    optionally created_at, last_login_at). Prints per VHS how many are new, updated,
    unchanged and refused, and every refusal with its line and reason.

    Exit status: 0 when every line was taken, 3 when some lines were refused (the others
    are imported), 1 when the file cannot be read at all (nothing is imported)."""
    kind = kind or ("csv" if path.lower().endswith(".csv") else "jsonl")
    stream = (io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
              if path == "-" else open(path, encoding="utf-8-sig", newline=""))  # noqa: SIM115
    try:
        with stream:
            report = imports.run(imports.lines(stream, kind), dry_run)
    except (imports.ImportFormatError, UnicodeDecodeError) as error:
        fail(f"{path}: {error}")
    except IntegrityError:  # an account was made meanwhile (Neuer Zugang): nothing kept
        fail("an account of this file was made meanwhile; nothing was imported, run it again")
    for slug in sorted(report.counts):
        click.echo(f"{slug or '(no VHS)'}: {report.summary(slug)}")
    for number, slug, email, reason in report.refusals:
        click.echo(f"refused line {number} ({slug or '-'}, {email or '-'}): {reason}")
    for number, slug, address, what in report.changes:
        click.echo(f"updated line {number} ({slug}, {address}): {what}")
    if dry_run:
        click.echo("dry run: nothing was changed")
        return _refused(report)
    for slug, vhs in sorted(report.touched.items()):
        audit.record("accounts_import", vhs=slug, actor=f"cli:{operator()}",
                     detail=report.summary(slug))
        if notify:
            sent = selfservice.welcome_imported(vhs, locale)
            click.echo(f"{slug}: {sent} welcome mails queued")
    return _refused(report)


REFUSED_EXIT = 3  # some lines were refused; the others were imported (documented)


def _refused(report: imports.Report) -> int | None:
    """The exit status: REFUSED_EXIT when any line was refused (what was taken is kept:
    the command's transaction commits before the process exits)."""
    if not report.refusals:
        return None
    click.echo(f"{len(report.refusals)} lines refused", err=True)
    return REFUSED_EXIT

@accounts_group.command("export", read_only=True)
@click.argument("path", type=click.Path(dir_okay=False, writable=True, allow_dash=True))
@click.option("--vhs", "vhs_slug", default=None)
@click.option("--all", "everyone", is_flag=True,
              help="Every account, not only those that changed here since their import.")
def accounts_export(path: str, vhs_slug: str | None, everyone: bool) -> None:
    """Write accounts in the import's CSV format: by default those made or used here
    since the import (the way back to the old login), with their Argon2id hashes."""
    try:
        vhs = tenants.find(vhs_slug) if vhs_slug else None
    except tenants.TenantError as error:
        fail(error)
    count = 0
    with (open(path, "w", encoding="utf-8", newline="") if path != "-"  # noqa: SIM115
          else io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")) as stream:
        writer = csv.DictWriter(stream, fieldnames=imports.FIELDS + imports.OPTIONAL)
        writer.writeheader()
        for row in imports.export(vhs, changed_only=not everyone):
            writer.writerow({name: imports.cell(value) for name, value in row.items()})
            count += 1
    click.echo(f"exported {count} accounts", err=path == "-")
