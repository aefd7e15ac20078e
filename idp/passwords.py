"""Password hashing with Argon2id (argon2-cffi); parameters come from the configuration.

``verify`` always spends the time of one Argon2id verification, also when there is no
hash to check (unknown address, account without password): the login answer must not tell
known from unknown addresses by its timing. ``verify_imported`` checks a hash imported
from the login this provider replaced (``idp.legacy``) and takes at least as long.
"""

from __future__ import annotations

import functools
import time

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, current_app

from . import legacy

MAX_LENGTH = 1024  # longer input is refused before hashing (a cheap request must not cost seconds)


@functools.cache
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    """The hash an unknown address is checked against, so that it costs what a known one
    does; made once per process and set of parameters (every app of a test run, or each
    command, would make it anew)."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost,
                          parallelism=parallelism, type=Type.ID).hash(
        "dummy password, never matches a real one")


class Passwords:
    """Hash and verify with one set of Argon2id parameters."""

    def __init__(self, time_cost: int, memory_cost: int, parallelism: int):
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID
        )
        self._dummy = _dummy_hash(time_cost, memory_cost, parallelism)
        self.floor = legacy.Floor()  # filled by every verification this process times

    def hash(self, password: str) -> str:
        """A new Argon2id hash of ``password``."""
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``; the same cost when ``stored`` is None."""
        started = time.perf_counter()
        try:
            return self.hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        finally:
            self.floor.timed(time.perf_counter() - started)

    def verify_imported(self, stored: str, password: str) -> bool:
        """Whether ``password`` matches an imported hash, in the time of at least one
        Argon2id verification (whatever the hash's format would take alone)."""
        started = time.perf_counter()
        try:
            return legacy.matches(stored, password)
        finally:
            self.pad(started)

    def pad(self, started: float) -> None:
        """Sleep until a check begun at ``started`` (perf_counter) took at least the time of
        one Argon2id verification (the median this process timed; the first time, when
        none was timed yet, one is run and timed now)."""
        if not self.floor.known():
            self.verify(None, "")
        self.floor.pad(started)

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than the configured ones."""
        return self.hasher.check_needs_rehash(stored)


def init_app(app: Flask) -> None:
    """Build the hasher from IDP_ARGON2_*."""
    app.extensions["idp.passwords"] = Passwords(
        app.config["ARGON2_TIME_COST"],
        app.config["ARGON2_MEMORY_COST"],
        app.config["ARGON2_PARALLELISM"],
    )


def passwords() -> Passwords:
    """The app's hasher."""
    return current_app.extensions["idp.passwords"]
