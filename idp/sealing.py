"""Secrets at rest (adapter configuration with database passwords and broker credentials):
Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from IDP_SECRET_KEY with HKDF.

Changing IDP_SECRET_KEY makes sealed values unreadable: set the adapters again after it.
"""

from __future__ import annotations

import base64
import json

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class SealError(Exception):
    """A sealed value cannot be opened (other secret key, or tampered)."""


def key_for(purpose: str) -> bytes:
    """A 256-bit key for one purpose, derived from IDP_SECRET_KEY with HKDF."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"vhskoop-idp {purpose}".encode()).derive(
        current_app.config["SECRET_KEY"].encode())


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
