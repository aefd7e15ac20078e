"""The provider's view of the signing keys: load once, notice rotations, sign and publish.

Another instance (or ``vhskoop-idp keys rotate``) may change the keyring on disk at any
time; each instance looks at the manifest's stat at most every IDP_KEYS_RELOAD_SECONDS
and reloads when it changed, so a rotation reaches every instance within that time.
"""

from __future__ import annotations

import threading
import time

from flask import Flask, current_app

from keys import Keyring, KeyStore, KeyStoreError, Policy, rotate

__all__ = ["KeyStoreError", "Signing", "init_app", "signing"]


class Signing:
    """Caches the keyring of one keys folder and reloads it when it changes."""

    def __init__(self, store: KeyStore, policy: Policy, reload_seconds: int):
        self.store = store
        self.policy = policy
        self.reload_seconds = reload_seconds
        self._lock = threading.Lock()
        self._keyring: Keyring | None = None
        self._stamp = None
        self._checked = 0.0

    def keyring(self) -> Keyring:
        """The keyring, reloaded if the folder changed since the last look."""
        if self._keyring is not None and time.monotonic() - self._checked < self.reload_seconds:
            return self._keyring
        with self._lock:
            if self._keyring is None:
                self._keyring = self.store.ensure(int(time.time()), self.policy)
                self._stamp = self.store.stamp()
            elif self.store.stamp() != self._stamp:
                self._stamp = self.store.stamp()
                self._keyring = self.store.load()
            self._checked = time.monotonic()
            return self._keyring

    def rotate(self) -> Keyring:
        """Promote next to current, retire current, add a new next (keys.rotate), on disk."""
        keyring = self.store.update(lambda current: rotate(current, int(time.time()),
                                                           self.policy))
        with self._lock:
            self._checked = 0.0  # reload at the next use
        return keyring


def init_app(app: Flask) -> None:
    """Attach the keys folder named by IDP_KEYS_DIR."""
    policy = Policy(
        # A retired key must verify every ID token it signed until that token expired.
        retain_seconds=max(app.config["ID_TOKEN_TTL"], app.config["ACCESS_TOKEN_TTL"]) + 300
    )
    store = KeyStore(app.config["KEYS_DIR"], app.config["KEYS_PASSPHRASE"])
    app.extensions["idp.keys"] = Signing(store, policy, app.config["KEYS_RELOAD_SECONDS"])


def signing(app: Flask | None = None) -> Signing:
    """The app's key cache."""
    return (app or current_app).extensions["idp.keys"]
