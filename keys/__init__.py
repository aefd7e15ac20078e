"""Signing keys: generate, store, rotate, publish (RFC 7517 JWK, RFC 7638 thumbprints).

Framework-free: the provider reads the keyring through ``KeyStore`` and signs with
``Keyring.current(alg)``; the command line rotates with ``rotate``.
"""

from .keyring import ALGORITHMS, Keyring, Policy, SigningKey, generate, prune, rotate
from .store import KeyStore, KeyStoreError

__all__ = [
    "ALGORITHMS",
    "Keyring",
    "KeyStore",
    "KeyStoreError",
    "Policy",
    "SigningKey",
    "generate",
    "prune",
    "rotate",
]
