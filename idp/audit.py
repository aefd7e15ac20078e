"""The audit trail: who signed in, was refused, changed what.

Each event names its kind, the VHS, the person (``sub``, or for an unknown person an
HMAC of the address, never the address itself), the client and the source. Nothing
secret is ever passed here.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app


def address_tag(vhs: str, address: str) -> str:
    """A keyed digest of (VHS, address): the same person is recognisable, not readable."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{vhs}|{address}".encode(), hashlib.sha256).hexdigest()[:32]


def record(kind: str, *, vhs: str | None = None, sub: str | None = None,
           address: str | None = None, client: str | None = None, source: str | None = None,
           reason: str | None = None, ip: str | None = None, actor: str | None = None) -> None:
    """Write one event."""
    who = sub or (address_tag(vhs or "", address) if address else None)
    current_app.logger.info(
        "audit %s vhs=%s who=%s client=%s source=%s reason=%s ip=%s actor=%s",
        kind, vhs, who, client, source, reason, ip, actor)
