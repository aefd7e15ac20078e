"""What every command shares: the app built on demand, one transaction, clear failures."""

from __future__ import annotations

import functools
import getpass
import sys
from collections.abc import Callable
from typing import NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from adapters.address import clean

from .. import accounts, acts, create_app, db, tenants
from ..config import ConfigError


class MissingConfiguration(click.ClickException):
    """The configuration cannot work; exit status 2, like a usage error."""

    exit_code = 2


def build_app(overrides: dict | None = None) -> Flask:
    """Build the provider for a command; a configuration problem names what to set."""
    try:
        return create_app(overrides)
    except ConfigError as error:
        raise MissingConfiguration(
            f"{error}\nSet the IDP_* variables of the installation (see the configuration "
            f"page of the documentation), or IDP_ENV=development for trying things out."
        ) from None


def _unreachable(error: Exception) -> MissingConfiguration:
    url = db.engine().url if current_app else "?"
    return MissingConfiguration(f"the database IDP_DATABASE_URL={url!r} cannot be reached: "
                                f"{str(getattr(error, 'orig', None) or error).splitlines()[0]}")


def in_app(command: Callable, act: str | None) -> Callable:
    """Run ``command`` in the app context and in one transaction (commit when it returns);
    a command that changes something (or diagnoses someone) records its ``act``
    (``idp.acts``; None for a read-only command). A command may return an exit status
    (diagnose: 1 when the person cannot get in): it is an answer, not a failure, so the
    transaction commits before the process exits."""
    @functools.wraps(command)
    def audited(*args, **kwargs):
        context = click.get_current_context()
        before = _person(context) if act is not None else {}
        status = command(*args, **kwargs)
        if act is not None:
            _record(act, context, before)
        return status

    in_transaction = with_appcontext(db.transaction(audited))

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            status = in_transaction(*args, **kwargs)
        except db.UNAVAILABLE as error:
            raise _unreachable(error) from None
        if status:
            sys.exit(status)
    return run


def _record(act: str, context: click.Context, before: dict) -> None:
    """The act, with the VHS, the client and the person (by ``sub`` where the address has an
    account, as the console records them) that the command's options name; an account the
    command deleted is named by the ``sub`` it had (``before``)."""
    params = context.params
    if params.get("dry_run"):
        return
    # a sub never changes: looked up again only when there was no account before the
    # command (it may have made one)
    person = before if "sub" in before else _person(context)
    acts.record(act, actor=f"cli:{operator()}", vhs=params.get("slug") or params.get("vhs_slug"),
                client=params.get("client_id"), **person)


def _person(context: click.Context) -> dict:
    """The person the command's options name: the account's ``sub``, else the address."""
    slug, address = context.params.get("slug") or context.params.get("vhs_slug"), \
        context.params.get("email")
    if not (slug and address):
        return {}
    try:
        account = accounts.find(tenants.find(slug), clean(address).value)
    except tenants.TenantError:
        account = None
    return {"sub": account.sub} if account else {"address": clean(address).value}


def operator() -> str:
    """The user name of whoever runs the command (for the audit trail)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Group(AppGroup):
    """A command group whose commands each run in the app context and one transaction."""

    def command(self, name: str, *args, read_only: bool = False, **kwargs):
        """Like click's, with ``in_app`` around the callback; a command that changes
        something records the act "<group> <name>" (declared in ``idp.acts``), one marked
        ``read_only`` records nothing."""
        act = None if read_only else acts.declared(f"{self.name} {name}")

        def decorator(callback):
            made = click.Group.command(self, name, *args, **kwargs)(in_app(callback, act))
            made.act = act
            return made
        return decorator


def command(name: str, read_only: bool = False, **kwargs) -> Callable:
    """A top-level command that runs in the app context and one transaction, recording the
    act ``name`` unless it is ``read_only``."""
    act = None if read_only else acts.declared(name)

    def decorator(callback):
        made = click.command(name, **kwargs)(in_app(callback, act))
        made.act = act
        return made
    return decorator


def fail(message: object) -> NoReturn:
    """Stop the command with ``message`` and exit status 1 (nothing it wrote is kept)."""
    raise click.ClickException(str(message))


def read_secret(flag: bool) -> str:
    """One line from standard input (for --*-stdin flags), without its line break."""
    return sys.stdin.readline().rstrip("\r\n") if flag else ""
