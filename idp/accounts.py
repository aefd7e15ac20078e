"""Accounts as administrators make and see them (the CLI, and later the console)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, or_, select

from adapters.address import clean, is_plausible

from . import db, sessions, signals, tenants
from .models import Account, Source, SsoSession, Status, Vhs, now
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


FIND = select(Account).where(Account.vhs_id == bindparam("vhs_id"),
                             Account.address == bindparam("address"))


def find(vhs: Vhs, address: str) -> Account | None:
    """The account of a cleaned address at a VHS, if there is one."""
    return db.session().scalar(FIND, {"vhs_id": vhs.id, "address": address})


def every(vhs_slug: str | None = None) -> list[Account]:
    """Accounts, of one VHS or all, by VHS and address."""
    query = select(Account).join(Vhs).order_by(Vhs.slug, Account.address)
    if vhs_slug:
        query = query.where(Vhs.slug == vhs_slug)
    return list(db.session().scalars(query))


STATES = (Status.ACTIVE, Status.PENDING, Status.DISABLED, Status.LEFT)
LEAVING = "leaving"  # a filter: active, and the program answers no (``idp.leavers``)
MOVING = "moving"  # a filter: the program lists the person under a new address
SOURCES = (Source.LOCAL, Source.PORTAL)
IMPORTED = "imported"  # a filter: brought over from the old login (``accounts import``)
PAGE_SIZE = 50
MAX_SEARCH = 100


@dataclass(frozen=True)
class Person:
    """One row of the console's people list."""

    account: Account
    live_sessions: int


@dataclass(frozen=True)
class People:
    """One page of a VHS's people, by address, and the address to continue after."""

    rows: list[Person]
    after: str | None


def people(vhs: Vhs, search: str = "", status: str = "", source: str = "",
           after: str = "", limit: int = PAGE_SIZE) -> People:
    """A page of the VHS's accounts by address (keyset: those after ``after``), found by a
    part of the address or the name, in one state and from one source, if given."""
    query = select(Account).where(Account.vhs_id == vhs.id).order_by(Account.address)
    needle = clean(search[:MAX_SEARCH]).value
    if needle:
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace(
            "_", "\\_") + "%"
        query = query.where(or_(Account.address.like(pattern, escape="\\"),
                                func.lower(Account.display_name).like(pattern, escape="\\")))
    if status in STATES:
        query = query.where(Account.status == status)
    elif status == LEAVING:
        query = query.where(Account.status == Status.ACTIVE, Account.leaving_since.is_not(None))
    elif status == MOVING:
        query = query.where(Account.moving_to.is_not(None))
    if source in SOURCES:
        query = query.where(Account.source == source)
    elif source == IMPORTED:
        query = query.where(Account.imported_at.is_not(None))
    if after:
        query = query.where(Account.address > after)
    found = list(db.session().scalars(query.limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    counts = dict(db.session().execute(
        select(SsoSession.account_id, func.count()).where(
            SsoSession.account_id.in_([a.id for a in found]), SsoSession.ended_at.is_(None),
            SsoSession.expires_at > now()).group_by(SsoSession.account_id)).all()) \
        if found else {}
    return People([Person(a, counts.get(a.id, 0)) for a in found],
                  found[-1].address if more else None)


def of_vhs(vhs: Vhs, account_id: int) -> Account | None:
    """The account ``account_id`` if it belongs to ``vhs`` (a forged id finds nothing)."""
    return db.session().scalar(select(Account).where(Account.id == account_id,
                                                     Account.vhs_id == vhs.id))


def disable(account: Account) -> bool:
    """Close an account on purpose: its sessions end and its tokens are revoked; False when
    it was disabled already."""
    if account.status == Status.DISABLED:
        return False
    account.status = Status.DISABLED
    sessions.end_all(account)
    signals.account_disabled(account)
    return True


def enable(account: Account) -> bool:
    """Open a disabled account again (active with a password or a portal login, else
    pending until the person sets one); False when it was not disabled."""
    if account.status != Status.DISABLED:
        return False
    usable = account.password_hash or account.source == Source.PORTAL
    account.status = Status.ACTIVE if usable else Status.PENDING
    signals.account_enabled(account)
    return True
