"""Accounts as administrators make and see them (the CLI, and later the console)."""

from __future__ import annotations

from sqlalchemy import select

from adapters.address import clean, is_plausible

from . import db, tenants
from .models import Account, Status, Vhs, now
from .password_policy import problems
from .passwords import passwords


class AccountError(ValueError):
    """The request breaks a rule; the message says which."""


def add_local(vhs_slug: str, address: str, password: str, name: str | None = None) -> Account:
    """Create an active local account with a password (administrators, tests, the demo).

    The password follows the same policy as one a person sets (idp.password_policy).
    """
    vhs = tenants.find(vhs_slug)
    cleaned = clean(address or "")
    if not is_plausible(cleaned.value):
        raise AccountError(f"not an e-mail address: {address!r}")
    broken = problems(password, cleaned.value, vhs.slug, vhs.name)
    if broken:
        raise AccountError(" ".join(str(problem) for problem in broken))
    exists = db.session().scalar(
        select(Account.id).where(Account.vhs_id == vhs.id, Account.address == cleaned.value)
    )
    if exists:
        raise AccountError(f"{cleaned.value} has an account at {vhs_slug} already")
    account = Account(
        vhs_id=vhs.id,
        address=cleaned.value,
        display_name=(name or "").strip()[:200] or None,
        password_hash=passwords().hash(password),
        status=Status.ACTIVE,
        email_verified=True,  # an administrator vouches for the address
        password_changed_at=now(),
    )
    db.session().add(account)
    db.session().flush()
    return account


def find(vhs: Vhs, address: str) -> Account | None:
    """The account of a cleaned address at a VHS, if there is one."""
    return db.session().scalar(select(Account).where(Account.vhs_id == vhs.id,
                                                     Account.address == address))


def every(vhs_slug: str | None = None) -> list[Account]:
    """Accounts, of one VHS or all, by VHS and address."""
    query = select(Account).join(Vhs).order_by(Vhs.slug, Account.address)
    if vhs_slug:
        query = query.where(Vhs.slug == vhs_slug)
    return list(db.session().scalars(query))
