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

from .. import audit, create_app, db
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
            f"{error}\nSet the IDP_* variables of the installation (see the README's "
            f"configuration table), or IDP_ENV=development for trying things out."
        ) from None


READ_ONLY = ("list", "adapters", "current", "audit", "settings", "export")


def _unreachable(error: Exception) -> MissingConfiguration:
    url = db.engine().url if current_app else "?"
    return MissingConfiguration(f"the database IDP_DATABASE_URL={url!r} cannot be reached: "
                                f"{str(getattr(error, 'orig', None) or error).splitlines()[0]}")


def in_app(command: Callable) -> Callable:
    """Run ``command`` in the app context and in one transaction (commit when it returns);
    a command that changes something (or diagnoses someone) leaves an audit event. A
    command may return an exit status (diagnose: 1 when the person cannot get in): it is
    an answer, not a failure, so the transaction commits before the process exits."""
    @functools.wraps(command)
    def audited(*args, **kwargs):
        status = command(*args, **kwargs)
        _record(click.get_current_context())
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


def _record(context: click.Context) -> None:
    if context.info_name in READ_ONLY or context.params.get("dry_run"):
        return
    params = context.params
    vhs = params.get("slug") or params.get("vhs_slug")
    client = params.get("client_id")
    audit.record("admin", vhs=vhs, client=client, actor=f"cli:{operator()}",
                 detail=" ".join(context.command_path.split()[1:]))


def operator() -> str:
    """The user name of whoever runs the command (for the audit trail)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Group(AppGroup):
    """A command group whose commands each run in the app context and one transaction."""

    def command(self, *args, **kwargs):
        """Like click's, with ``in_app`` around the callback."""
        def decorator(callback):
            return click.Group.command(self, *args, **kwargs)(in_app(callback))
        return decorator


def command(name: str, **kwargs) -> Callable:
    """A top-level command that runs in the app context and one transaction."""
    def decorator(callback):
        return click.command(name, **kwargs)(in_app(callback))
    return decorator


def fail(message: object) -> NoReturn:
    """Stop the command with ``message`` and exit status 1 (nothing it wrote is kept)."""
    raise click.ClickException(str(message))


def read_secret(flag: bool) -> str:
    """One line from standard input (for --*-stdin flags), without its line break."""
    return sys.stdin.readline().rstrip("\r\n") if flag else ""
