"""What a person has allowed each service (OIDC Core 3.1.2.4): the scopes consented to,
kept per account and client, so that the consent page is asked only for what is new."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from . import db
from .models import Account, Consent, now

OF = select(Consent).where(Consent.account_id == bindparam("account_id"),
                           Consent.client_id == bindparam("client_id"))


def of(account: Account, client_id: str) -> Consent | None:
    """What ``account`` has allowed the client ``client_id`` so far."""
    return db.session().scalar(OF, {"account_id": account.id, "client_id": client_id})


def covers(account: Account, client_id: str, scope: str | None) -> bool:
    """Whether ``account`` has allowed the client every scope of ``scope`` already."""
    consent = of(account, client_id)
    return consent is not None and consent.covers(scope)


def remember(account: Account, client_id: str, scope: str) -> None:
    """Add ``scope`` to what ``account`` allows the client ``client_id``."""
    record = of(account, client_id)
    if record is None:
        record = Consent(account_id=account.id, client_id=client_id, scope="")
        db.session().add(record)
    record.scope = " ".join(sorted(set(record.scope.split()) | set(scope.split())))
    record.granted_at = now()
