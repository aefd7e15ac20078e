"""The declarative base, the clock, and how secrets are stored.

Times are whole seconds since the epoch (UTC) in BIGINT columns: the same on SQLite and
PostgreSQL, and what JWT claims use anyway. Secrets (client secrets, codes, tokens,
session cookies, link tokens) are stored only as SHA-256 digests: they are long random
values, so a digest is enough and a database dump gives nothing to replay.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from flask import current_app, has_app_context
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def now() -> int:
    """The current time in whole seconds; tests may set app.config["CLOCK"] (a callable)."""
    clock = current_app.config.get("CLOCK") if has_app_context() else None
    return int(clock() if clock else time.time())


def digest(value: str) -> str:
    """SHA-256 hex digest of a random secret, for storage and lookup."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret() -> str:
    """A random secret of 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable migration names)."""

    metadata = MetaData(naming_convention=NAMING)
