"""What every command shares: the app built on demand, one transaction, clear failures."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from .. import create_app, db
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


def in_app(command: Callable) -> Callable:
    """Run ``command`` in the app context and in one transaction (commit when it returns)."""
    return with_appcontext(db.transaction(command))


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
