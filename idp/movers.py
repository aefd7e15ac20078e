"""Movers: the person stays, the address changes.

When the VHS's program no longer knows an account's address ("unknown") but still knows
the user behind it (the program's user id kept from an earlier answer) under another
address, where it lists them, the account is a mover, not a leaver (the adapter's optional
``find_by_id`` tells, the SQL adapters have it):

- ``found``: which of some accounts moved, and where to;
- ``moving``: the account keeps its access (the program still lists the person) and is
  marked with the new address; a link goes there: "Ihre Adresse hat sich geändert: jetzt
  bestätigen" (once per address, and again when the link has expired unused);
- following the link (``selfservice.confirm_move``) moves the account to the new
  address, with the same ``sub``, the same password and services; audited.

A pending move ends when the program lists the old address again or no longer the user
(``idp.leavers``). A whole VHS changing its mail domain is such a case: its accounts are
movers, and movers do not count for the lifecycle's brake.
"""

from __future__ import annotations

from sqlalchemy import select

from adapters.address import clean, is_plausible
from adapters.base import UNKNOWN, Adapter, Decision

from . import audit, db, leavers, links, mail, notices
from .models import Account, AccountToken, EligibilityCheck, Purpose, Status, Vhs, now


def found(vhs: Vhs, adapter: Adapter | None, accounts: list[Account],
          answers: dict[str, Decision]) -> dict[int, str]:
    """Of the active ``accounts`` whose address the program answered "unknown" for, the
    ones whose user it lists under another address that no other account here has: their
    id and that address. AdapterUnavailable passes on (then nobody is taken for a mover,
    nor for a leaver)."""
    finder = getattr(adapter, "find_by_id", None)
    unknown = [account for account in accounts if account.status == Status.ACTIVE
               and answers[account.address].status == UNKNOWN]
    if finder is None or not unknown:
        return {}
    users = dict(db.session().execute(select(
        EligibilityCheck.address, EligibilityCheck.program_user_id).where(
        EligibilityCheck.vhs_id == vhs.id, EligibilityCheck.program_user_id.is_not(None),
        EligibilityCheck.address.in_([account.address for account in unknown]))).all())
    moved = {}
    for account in unknown:
        user_id = users.get(account.address)
        decision = finder(user_id) if user_id else None
        new = _listed_at(decision)
        if new is not None and new != account.address:
            moved[account.id] = new
    taken = set(db.session().scalars(select(Account.address).where(
        Account.vhs_id == vhs.id, Account.address.in_(sorted(set(moved.values()))))))
    return {account_id: new for account_id, new in moved.items() if new not in taken}


def _listed_at(decision: Decision | None) -> str | None:
    """The cleaned address under which a user the program found is eligible, if any."""
    if decision is None or not decision.eligible or decision.person is None:
        return None
    address = clean(decision.person.stored_address or "").value
    return address if is_plausible(address) else None


def moving(account: Account, new: str, moment: int) -> bool:
    """The program lists the person under ``new``: access stays, the account waits for
    the person to confirm the address; a link goes there unless one still works. Whether
    a mail went out."""
    if account.leaving_since is not None:  # taken for a leaver before the program told
        leavers.reopen(account)
    if account.moving_to == new and _open_link(account):
        return False
    if account.moving_to != new:
        account.moving_to, account.moving_since = new, moment
        audit.record("moving", vhs=account.vhs.slug, sub=account.sub)
    _send(account)
    return True


def _send(account: Account) -> None:
    url = links.new(account, Purpose.MOVE)
    notices.moved(account, account.moving_to, url, now() + links.lifetime(Purpose.MOVE))


def heading_to(vhs: Vhs, address: str) -> Account | None:
    """The active account at ``vhs`` whose person the program now lists under
    ``address`` (a mover who has not confirmed it yet), if there is one."""
    return db.session().scalar(select(Account).where(
        Account.vhs_id == vhs.id, Account.moving_to == address,
        Account.status == Status.ACTIVE).limit(1))


def remind(account: Account) -> bool:
    """The person typed the new address at "Neuer Zugang" or "Passwort vergessen": send a
    new link there, at most once per IDP_MAIL_INTERVAL_SECONDS; whether it went."""
    if mail.recently_sent(account.vhs, account.moving_to, "moved"):
        return False
    _send(account)
    return True


def _open_link(account: Account) -> bool:
    return db.session().scalar(select(AccountToken.id).where(
        AccountToken.account_id == account.id, AccountToken.purpose == Purpose.MOVE,
        AccountToken.used_at.is_(None), AccountToken.voided_at.is_(None),
        AccountToken.expires_at > now()).limit(1)) is not None
