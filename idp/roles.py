"""Console roles: who may administer which VHS in ``/admin`` (``vhskoop-idp admins``).

An account holds at most one role: ``admin`` of its own VHS, or ``operator`` (ITEM), who
may do everything for every VHS. What a role lets a request do is decided in one place,
the console's gate (``idp.web.admin.gate``); this module only stores and reads the roles.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from adapters.address import clean

from . import accounts, db, tenants
from .models import Account, ConsoleRole, Role, Vhs


class RoleError(ValueError):
    """The request breaks a rule; the message says which."""


@dataclass(frozen=True)
class Clearance:
    """What one account may do in the console."""

    account_id: int
    sub: str
    address: str
    vhs_id: int
    vhs_slug: str
    role: str

    @property
    def operator(self) -> bool:
        """An ITEM operator: every VHS, and the installation's own pages."""
        return self.role == Role.OPERATOR

    def covers(self, vhs: Vhs) -> bool:
        """Whether this role reaches the people and settings of ``vhs``."""
        return self.operator or vhs.id == self.vhs_id

    @property
    def actor(self) -> str:
        """How the audit trail names this administrator."""
        return f"console:{self.vhs_slug}/{self.address}"[:100]


def _account(vhs_slug: str, address: str) -> Account:
    vhs = tenants.find(vhs_slug)
    account = accounts.find(vhs, clean(address or "").value)
    if account is None:
        raise RoleError(f"{address} has no account at {vhs_slug} (accounts add, or let the "
                        f"person ask for access first)")
    return account


def grant(vhs_slug: str, address: str, role: str, by: str) -> ConsoleRole:
    """Give the account of ``address`` at ``vhs_slug`` the console ``role`` (replacing any)."""
    if role not in (Role.ADMIN, Role.OPERATOR):
        raise RoleError(f"unknown role {role!r}")
    account = _account(vhs_slug, address)
    held = db.session().scalar(select(ConsoleRole).where(ConsoleRole.account_id == account.id))
    if held is None:
        held = ConsoleRole(account_id=account.id, account=account)
        db.session().add(held)
    held.role, held.granted_by = role, by[:100]
    db.session().flush()
    return held


def revoke(vhs_slug: str, address: str) -> bool:
    """Take the console role from the account; False when it held none."""
    account = _account(vhs_slug, address)
    return bool(db.session().execute(
        delete(ConsoleRole).where(ConsoleRole.account_id == account.id)).rowcount)


def held_by(account_id: int) -> ConsoleRole | None:
    """The console role the account holds, if any."""
    return db.session().scalar(select(ConsoleRole).where(ConsoleRole.account_id == account_id))


def every() -> list[ConsoleRole]:
    """Every role, by VHS and address."""
    return list(db.session().scalars(select(ConsoleRole).join(Account).join(Vhs).order_by(
        Vhs.slug, Account.address)))


def clearance(account: Account) -> Clearance | None:
    """The account's console role, or None; a disabled account has none."""
    if not account.active:
        return None
    role = db.session().scalar(select(ConsoleRole.role).where(
        ConsoleRole.account_id == account.id))
    if role is None:
        return None
    return Clearance(account.id, account.sub, account.address, account.vhs_id,
                     account.vhs.slug, role)
