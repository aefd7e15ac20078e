"""The administrators' daily digest: when help requests are open at their VHS, new
"Neuer Zugang" requests failed there, or people left (their access ended because the
program no longer lists them, or their account was closed, or the brake held a pass),
each administrator (an active account) gets one
mail a day at most, from the VHS's own server, in the language they chose (German or
English), unless they turned it off ("Hilfe-Anfragen" in the console).

The worker looks at each administrator at most once an hour (``due``); a digest goes out
when one has not gone out for a day and there is something to tell.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext
from sqlalchemy import func, or_, select

from adapters.base import ELIGIBLE

from . import audit, db, notices
from .models import (
    Account,
    AuditEvent,
    ConsoleRole,
    HelpRequest,
    HelpState,
    Role,
    Status,
    Vhs,
    now,
)

DAY = 86400
LOOK_AGAIN = 3600  # nothing to tell: look again in an hour
PER_ROUND = 50
LOCALES = ("de", "en")
SUCCESSES = (ELIGIBLE, "no_adapter")  # access requests that are no failure to report


@dataclass(frozen=True)
class Digest:
    """What one administrator is told."""

    open_requests: list[HelpRequest]
    failures: int  # "Neuer Zugang" requests that failed since the last digest (or a day)
    leavers: list[str] = ()  # addresses whose access the program's "no" ended since then
    closed: list[str] = ()  # addresses closed as "ausgeschieden" since then
    braked: bool = False  # a lifecycle pass was braked at the VHS since then
    movers: list[str] = ()  # "old → new": the program lists them under a new address

    def __bool__(self) -> bool:
        return bool(self.open_requests or self.failures or self.leavers or self.closed
                    or self.braked or self.movers)


def of(role: ConsoleRole, moment: int) -> Digest:
    """What ``role``'s administrator would be told at ``moment``."""
    vhs = role.account.vhs
    since = max(role.digest_sent_at or 0, moment - DAY)
    open_requests = list(db.session().scalars(select(HelpRequest).where(
        HelpRequest.vhs_id == vhs.id, HelpRequest.state == HelpState.OPEN)
        .order_by(HelpRequest.created_at).limit(50)))
    failures = db.session().scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.kind == "access_request", AuditEvent.vhs == vhs.slug,
        AuditEvent.at > since, AuditEvent.reason.not_in(SUCCESSES)))
    return Digest(open_requests, failures, _addresses("leaving", vhs.id, vhs.slug, since),
                  _addresses("account_left", vhs.id, vhs.slug, since),
                  db.session().scalar(select(func.count()).select_from(AuditEvent).where(
                      AuditEvent.kind == "lifecycle_braked", AuditEvent.vhs == vhs.slug,
                      AuditEvent.at > since)) > 0, _movers(vhs, since))


def _movers(vhs: Vhs, since: int) -> list[str]:
    """The VHS's movers since ``since``: "old → new" while the person has not confirmed
    the new address, the address alone once they have."""
    found = db.session().execute(select(Account.address, Account.moving_to).where(
        Account.vhs_id == vhs.id, Account.sub.in_(select(AuditEvent.who).where(
            AuditEvent.kind == "moving", AuditEvent.vhs == vhs.slug, AuditEvent.at > since)))
        .order_by(Account.address).limit(50)).all()
    return [f"{address} → {new}" if new else address for address, new in found]


def _addresses(kind: str, vhs_id: int, slug: str, since: int) -> list[str]:
    """The addresses of the VHS's accounts with an event ``kind`` since ``since`` (an
    account deleted meanwhile is left out: nothing links its pseudonym to an address)."""
    return list(db.session().scalars(select(Account.address).where(
        Account.vhs_id == vhs_id, Account.sub.in_(select(AuditEvent.who).where(
            AuditEvent.kind == kind, AuditEvent.vhs == slug, AuditEvent.at > since)))
        .order_by(Account.address).limit(50)))


def due() -> dict[str, int]:
    """The worker's round: send the digests that are due; how many were looked at and sent."""
    moment = now()
    waiting = db.session().scalars(select(ConsoleRole.id).join(ConsoleRole.account).where(
        ConsoleRole.role == Role.ADMIN, ConsoleRole.digest, Account.status == Status.ACTIVE,
        or_(ConsoleRole.digest_checked_at.is_(None),
            ConsoleRole.digest_checked_at <= moment - LOOK_AGAIN),
        or_(ConsoleRole.digest_sent_at.is_(None), ConsoleRole.digest_sent_at <= moment - DAY))
        .order_by(ConsoleRole.id).limit(PER_ROUND)).all()
    db.discard()
    counts = {"looked at": 0, "sent": 0}
    for role_id in waiting:
        counts["sent"] += db.transaction(lambda rid=role_id: _one(rid, moment))()
        counts["looked at"] += 1
    return counts


def _one(role_id: int, moment: int) -> bool:
    role = db.session().get(ConsoleRole, role_id)
    role.digest_checked_at = moment
    told = of(role, moment)
    if not told:
        return False
    account = role.account
    sent = notices.send(account.vhs, account.address, "help_digest", role.digest_locale,
                        interval=DAY - 60, digest=told,
                        link=notices.issuer_link(f"/admin/vhs/{account.vhs.slug}/hilfe"),
                        link_label=lazy_gettext("Hilfe-Anfragen öffnen"))
    if sent is None:
        return False
    role.digest_sent_at = moment
    audit.record("help_digest", vhs=account.vhs.slug, sub=account.sub)
    return True


def choose(role: ConsoleRole, locale: str | None) -> None:
    """An administrator's choice: the digest in ``locale`` ("de", "en"), or none (None)."""
    if locale is not None and locale not in LOCALES:
        raise ValueError(f"no digest in {locale!r}")
    role.digest = locale is not None
    if locale is not None:
        role.digest_locale = locale
