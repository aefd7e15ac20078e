"""``vhskoop-idp keys ...``: the signing keys and their rotation."""

from __future__ import annotations

import time

import click

from ..signing import signing
from .base import Group


@click.group("keys", cls=Group)
def keys_group() -> None:
    """Signing keys."""


@keys_group.command("list", read_only=True)
def keys_list() -> None:
    """List the keys with state and retirement time."""
    for key in signing().keyring().keys:
        until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(key.retire_until)) \
            if key.retire_until else ""
        click.echo(f"{key.kid}\t{key.alg}\t{key.state}\t{until}")


@keys_group.command("rotate")
def keys_rotate() -> None:
    """Promote next to current, retire current, create a new next."""
    keyring = signing().rotate()
    for key in keyring.keys:
        click.echo(f"{key.kid}\t{key.alg}\t{key.state}")
    click.echo(f"running instances pick this up within {signing().reload_seconds} seconds")
