"""Secrets at rest (adapter configuration with database passwords and broker credentials):
Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from IDP_SECRET_KEY with HKDF.

Changing IDP_SECRET_KEY makes sealed values unreadable: set the adapters again after it.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class SealError(Exception):
    """A sealed value cannot be opened (other secret key, or tampered)."""


def key_for(purpose: str) -> bytes:
    """A 256-bit key for one purpose, derived from IDP_SECRET_KEY with HKDF (once per
    secret and purpose: every refresh derives its successor with one)."""
    return _derived(current_app.config["SECRET_KEY"], purpose)


@lru_cache(maxsize=32)
def _derived(secret: str, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"vhskoop-idp {purpose}".encode()).derive(secret.encode())


def _fernet(purpose: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(key_for(purpose)))


def seal(value: dict, purpose: str = "adapter-config") -> str:
    """Encrypt and authenticate a JSON-able value."""
    return _fernet(purpose).encrypt(json.dumps(value).encode()).decode()


def unseal(token: str, purpose: str = "adapter-config") -> dict:
    """Open a sealed value."""
    try:
        return json.loads(_fernet(purpose).decrypt(token.encode()))
    except InvalidToken:
        raise SealError("cannot open the sealed value: was IDP_SECRET_KEY changed?") from None
