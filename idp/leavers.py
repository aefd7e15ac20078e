"""Leavers: access follows the Verwaltungsprogramm at once, and the account follows later.

When the VHS's program answers "no" for a person with an account (unknown, not released,
inactive, not linked), at a sign-in, a refresh or a lifecycle pass (``idp.lifecycle``):

- ``said_no``: the person's sessions end and their tokens are revoked; every service that
  shared a session is sent its back-channel logout (``sessions.end_all``); the account is
  marked as leaving with the date of the first "no", and the audit records why;
- after IDP_LEAVER_GRACE_DAYS in which every answer (at least two) said "no", ``close_due``
  closes it as "ausgeschieden" (``Status.LEFT``), which cannot sign in;
- IDP_LEAVER_DELETE_DAYS after that, ``delete_due`` deletes it with everything about it
  (``idp.deletion``); the audit keeps only the pseudonym.

``said_yes``: a person whom the program lists again before the deletion is no longer
leaving, and a closed account opens again with the same ``sub`` and the same services.
A program that cannot answer changes nothing (the caller gets ``AdapterUnavailable``).
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext
from sqlalchemy import or_, select

from . import audit, db, deletion, links, sessions, signals
from .models import Account, Purpose, Status, Vhs

DAY = 86400
BERLIN = ZoneInfo("Europe/Berlin")
WATCHED = (Status.ACTIVE, Status.LEFT)  # the states a program's answer changes


def account_at(vhs: Vhs, address: str) -> Account | None:
    """The account the program's answer is about, if it is one the answer changes."""
    found = db.session().scalar(select(Account).where(Account.vhs_id == vhs.id,
                                                      Account.address == address))
    return found if found is not None and found.status in WATCHED else None


def said_no(account: Account, status: str, moment: int) -> None:
    """The program said no (``status``): end the access now, count the answer."""
    _no_move(account)
    first = account.leaving_since is None
    if first:
        account.leaving_since = moment
        account.no_answers = 0
    account.no_answers = (account.no_answers or 0) + 1
    if account.status == Status.ACTIVE and first:
        sessions.end_all(account)  # revokes the tokens, queues the back-channel logouts
        signals.account_disabled(account, initiating="policy")
        audit.record("leaving", vhs=account.vhs.slug, sub=account.sub, reason=status)


def said_yes(account: Account) -> None:
    """The program lists the person (again): no longer leaving; an account closed as a
    leaver opens. One closed because nobody signed in stays closed (the program's "yes"
    says nothing about that): only the person's own sign-in opens it (``reopen``)."""
    _no_move(account)
    if account.leaving_since is None:
        return
    reopen(account)


def reopen(account: Account) -> None:
    """Open a leaver's account again (same ``sub``, same services), or end its leaving."""
    came_back = account.status == Status.LEFT
    account.leaving_since, account.no_answers, account.left_at = None, 0, None
    account.status = Status.ACTIVE
    signals.account_enabled(account, initiating="policy")
    audit.record("account_back" if came_back else "leaving_ended", vhs=account.vhs.slug,
                 sub=account.sub)


def _no_move(account: Account) -> None:
    """The program lists the old address again, or no longer the user: a pending move
    (``idp.movers``) is off, and its link void."""
    if account.moving_to is not None:
        account.moving_to = account.moving_since = None
        links.void(account.id, Purpose.MOVE)


KEEP_REASON = 200  # characters of an exception's reason
KEEP_DAYS = 366  # an exception ends within a year (it can be renewed)


class KeepError(ValueError):
    """An exception that cannot be granted; the message says why, in words."""


def unkept(moment: int):
    """The condition: no administrator's exception in force at ``moment``."""
    return or_(Account.keep_until.is_(None), Account.keep_until <= moment)


def keep(account: Account, until: int, reason: str, moment: int) -> None:
    """"Zugang behalten": neither closed nor deleted as a leaver or for inactivity before
    ``until``; the person's access still follows the program."""
    reason = " ".join(reason.split())
    if not reason or len(reason) > KEEP_REASON:
        raise KeepError(gettext("Bitte nennen Sie einen Grund (höchstens %(limit)s Zeichen).",
                                limit=KEEP_REASON))
    if not moment < until <= moment + KEEP_DAYS * DAY:
        raise KeepError(gettext("Das Enddatum muss in der Zukunft liegen, höchstens ein Jahr "
                                "voraus."))
    account.keep_until, account.keep_reason = until, reason


def end_of_day(typed: str) -> int:
    """The end of a typed day ("2027-03-31") in Europe/Berlin, as a moment; KeepError when
    it is not a day."""
    try:
        day = date.fromisoformat(typed.strip()[:10])
    except ValueError:
        raise KeepError(gettext("Bitte geben Sie ein Datum an (JJJJ-MM-TT).")) from None
    return int(datetime.combine(day, time.max, BERLIN).timestamp())


def closable(vhs: Vhs, moment: int) -> list[Account]:
    """The VHS's leavers whose grace period is over: every answer for
    IDP_LEAVER_GRACE_DAYS said no, and there were at least two (and no exception)."""
    grace = current_app.config["LEAVER_GRACE_DAYS"] * DAY
    return list(db.session().scalars(select(Account).where(
        Account.vhs_id == vhs.id, Account.status == Status.ACTIVE,
        Account.leaving_since.is_not(None), Account.leaving_since <= moment - grace,
        Account.no_answers >= 2, unkept(moment))))


def close(accounts: list[Account], moment: int, why: str | None = None) -> None:
    """Close each as "ausgeschieden" (``why``: "inactive" when nobody signed in)."""
    for account in accounts:
        account.status, account.left_at = Status.LEFT, moment
        sessions.end_all(account)  # nothing should be left; a session started meanwhile
        audit.record("account_left", vhs=account.vhs.slug, sub=account.sub, detail=why)


def delete_due(moment: int, vhs: Vhs | None = None) -> int:
    """Delete the closed leavers' accounts IDP_LEAVER_DELETE_DAYS after they were closed
    (of one VHS, or of all); how many."""
    query = select(Account).where(
        Account.status == Status.LEFT, unkept(moment),
        Account.left_at <= moment - current_app.config["LEAVER_DELETE_DAYS"] * DAY)
    if vhs is not None:
        query = query.where(Account.vhs_id == vhs.id)
    found = list(db.session().scalars(query))
    for account in found:
        audit.record("account_deleted", vhs=account.vhs.slug, sub=account.sub,
                     actor="retention", detail="left")
        deletion.delete(account)
    return len(found)
