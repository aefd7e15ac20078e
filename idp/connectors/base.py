"""The connector contracts, their outage exception, and a circuit breaker for remote calls.

Connectors reach systems we do not run: the VHS's itm:PORTAL, through its password API
(``PortalConnector``) or its OpenID provider (``UpstreamConnector``). They are built once
per VHS from its settings, keep no state about people, and return values: an ``Identity``
for a confirmed person, None for a wrong password. ``PortalUnavailable`` is raised only
when the portal gives no trustworthy answer; ``UpstreamError`` when an OpenID answer must
be refused (forged, replayed, badly signed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from ..identity import Identity


class PortalUnavailable(Exception):
    """The portal gave no trustworthy answer (down, slow, garbage, circuit open)."""


class UpstreamError(Exception):
    """An upstream OpenID answer was refused; the message is for the log, not the person."""


class PortalConnector(Protocol):
    """One VHS's itm:PORTAL password API."""

    def lookup(self, address: str) -> bool:
        """Whether the portal has a staff login for the address."""

    def login(self, address: str, password: str) -> Identity | None:
        """The person when the password is right, None when it is wrong."""

    def password_reset_url(self, address: str) -> str:
        """Where the person resets the portal password."""


class UpstreamConnector(Protocol):
    """One VHS's itm:PORTAL OpenID provider, with us as its relying party."""

    def login_url(self) -> tuple[str, dict]:
        """Where to send the browser, and what ``finish`` needs back (kept by the caller)."""

    def finish(self, args: Mapping[str, str], url: str, stash: dict) -> Identity:
        """Check the callback's answer and ID token; the person it names."""


class CircuitBreaker:
    """After ``threshold`` failures in a row, fail fast for ``cooldown`` seconds, then let
    one call through to test the water (half-open): success closes, failure reopens."""

    def __init__(self, threshold: int = 3, cooldown: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._lock = threading.Lock()
        self._trial = False

    @property
    def state(self) -> str:
        """closed, open or half-open."""
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def call(self, action: Callable):
        """Run ``action`` unless the circuit is open; count its failures."""
        with self._lock:
            state = self.state
            if state == "open" or (state == "half-open" and self._trial):
                raise PortalUnavailable("the portal failed repeatedly; not asked for now "
                                        "(circuit open)")
            self._trial = state == "half-open"
        try:
            result = action()
        except PortalUnavailable:
            with self._lock:
                self._trial = False
                self.failures += 1
                if self.failures >= self.threshold or self.opened_at is not None:
                    self.opened_at = self.clock()
            raise
        with self._lock:
            self._trial = False
            self.failures = 0
            self.opened_at = None
        return result
