"""What the console reads out of the audit trail and the outbox: the access requests of a
VHS with the mails they caused, outbox and audit pages (keyset, newest first), and the
operators' dashboard (with the VHS ITEM should call: help requests waiting for more than
two days, no administrator, a program failing for more than an hour). Read only.

The audit trail keeps a typed address only as a keyed digest (``audit.address_tag``).
The requests page names the address where the VHS knows it anyway: the recipient of the
mail the request caused, or an account of that VHS.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, func, select

from . import audit, db, lifecycle
from .models import (
    Account,
    AuditEvent,
    ConsoleRole,
    EligibilityCheck,
    HelpRequest,
    HelpState,
    OutboxMail,
    Role,
    Status,
    Vhs,
    now,
)

PAGE_SIZE = 50
REQUEST_MAILS = ("activation", "already_active", "not_released", "not_linked",
                 "not_registered", "portal_login")
FAILED_KINDS = ("login_failed",)


@dataclass(frozen=True)
class Request:
    """One "Neuer Zugang": when, the program's decision, the address (if known here), the
    mail it caused (if any)."""

    event: AuditEvent
    address: str | None
    mail: OutboxMail | None


@dataclass(frozen=True)
class Page:
    """Rows, newest first, and the id to continue before (None: the last page)."""

    rows: list
    before: int | None


def _page(query, model, before: int | None, limit: int) -> Page:
    if before:
        query = query.where(model.id < before)
    rows = list(db.session().scalars(query.order_by(model.id.desc()).limit(limit + 1)))
    return Page(rows[:limit], rows[limit - 1].id if len(rows) > limit else None)


def access_requests(vhs: Vhs, before: int | None = None, limit: int = PAGE_SIZE) -> Page:
    """The VHS's "Neuer Zugang" requests, newest first, with address and mail where known."""
    events = _page(select(AuditEvent).where(AuditEvent.vhs == vhs.slug,
                                            AuditEvent.kind == "access_request"),
                   AuditEvent, before, limit)
    if not events.rows:
        return events
    first, last = events.rows[-1].at, events.rows[0].at
    mails = list(db.session().scalars(select(OutboxMail).where(
        OutboxMail.vhs_id == vhs.id, OutboxMail.kind.in_(REQUEST_MAILS),
        OutboxMail.created_at.between(first - 5, last + 5))))
    known = {m.recipient for m in mails} | set(db.session().scalars(
        select(Account.address).where(Account.vhs_id == vhs.id)))
    addresses = {audit.address_tag(vhs.slug, address): address for address in known}
    rows = []
    for event in events.rows:
        address = addresses.get(event.who or "")
        mail = min((m for m in mails if m.recipient == address
                    and abs(m.created_at - event.at) <= 5),
                   key=lambda m: abs(m.created_at - event.at), default=None)
        rows.append(Request(event, address, mail))
    return Page(rows, events.before)


def outbox(vhs: Vhs | None = None, before: int | None = None,
           limit: int = PAGE_SIZE) -> Page:
    """Mails in the outbox, of one VHS or all, newest first."""
    query = select(OutboxMail)
    if vhs is not None:
        query = query.where(OutboxMail.vhs_id == vhs.id)
    return _page(query, OutboxMail, before, limit)


def trail(vhs: str | None = None, kind: str | None = None, who: list[str] | None = None,
          since: int | None = None, before: int | None = None,
          limit: int = PAGE_SIZE) -> Page:
    """Audit events by filters, newest first."""
    query = select(AuditEvent)
    if vhs:
        query = query.where(AuditEvent.vhs == vhs)
    if kind:
        query = query.where(AuditEvent.kind == kind)
    if who is not None:
        query = query.where(AuditEvent.who.in_(who))
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    return _page(query, AuditEvent, before, limit)


def kinds() -> list[str]:
    """Every kind of event in the trail (for the filter)."""
    return list(db.session().scalars(select(AuditEvent.kind).distinct().order_by(
        AuditEvent.kind)))


@dataclass(frozen=True)
class Dashboard:
    """The last hours at a glance."""

    hours: list[tuple[int, int, int]]  # (hour start, logins, failed logins)
    failures: list[tuple[str, int]]  # (reason, count)
    throttled: list[tuple[str, int]]  # (VHS, count)
    program_errors: list[tuple[str, int]]  # (VHS, count)
    waiting: list[tuple[str, int, int]]  # (VHS, open help requests > 2 days, oldest's time)
    without_admin: list[str]  # VHS with a program or people, but nobody to fix things there
    failing: list[tuple[str, int]]  # (VHS, since when its program has not answered)
    braked: list[tuple[str, int]] = ()  # (VHS, when) a lifecycle pass was braked, unanswered


WAITING_SECONDS = 2 * 86400  # a help request open longer than this: ITEM should call
FAILING_SECONDS = 3600  # a program not answering for longer than this: ITEM should call


def dashboard(hours: int = 24) -> Dashboard:
    """Logins per hour, failures by reason, throttle hits and program errors by VHS."""
    since = (now() // 3600 - hours + 1) * 3600
    recent = AuditEvent.at >= since
    hour = (AuditEvent.at // 3600).label("hour")
    counted = dict.fromkeys(range(since // 3600, since // 3600 + hours), (0, 0))
    for bucket, kind, count in db.session().execute(
            select(hour, AuditEvent.kind, func.count()).where(
                recent, AuditEvent.kind.in_(("login", "login_failed")))
            .group_by(hour, AuditEvent.kind)):
        ok, failed = counted.get(int(bucket), (0, 0))
        counted[int(bucket)] = (ok + count, failed) if kind == "login" else (ok, failed + count)

    def by(column, kind: str) -> list[tuple[str, int]]:
        rows = db.session().execute(select(column, func.count()).where(
            recent, AuditEvent.kind == kind).group_by(column).order_by(func.count().desc()))
        return [(value or "-", count) for value, count in rows]

    return Dashboard([(bucket * 3600, ok, failed) for bucket, (ok, failed) in counted.items()],
                     by(AuditEvent.reason, "login_failed"), by(AuditEvent.vhs, "throttled"),
                     by(AuditEvent.vhs, "program_unavailable"), *_to_call(now()),
                     braked=_braked(now()))


def _braked(moment: int) -> list[tuple[str, int]]:
    """The VHS whose lifecycle pass the brake held within a day, not yet answered by ITEM."""
    slugs = db.session().scalars(select(AuditEvent.vhs).where(
        AuditEvent.kind == "lifecycle_braked", AuditEvent.at > moment - 86400).distinct())
    found = []
    for slug in sorted(slug for slug in slugs if slug):
        vhs = db.session().scalar(select(Vhs).where(Vhs.slug == slug))
        event = lifecycle.braked(vhs, moment) if vhs is not None else None
        if event is not None:
            found.append((slug, event.at))
    return found


def _to_call(moment: int) -> tuple[list, list, list]:
    """The VHS ITEM should call before anyone writes a ticket (the dashboard's top)."""
    session = db.session()
    waiting = [(slug, count, oldest) for slug, count, oldest in session.execute(
        select(Vhs.slug, func.count(), func.min(HelpRequest.created_at)).join(HelpRequest.vhs)
        .where(HelpRequest.state == HelpState.OPEN,
               HelpRequest.created_at <= moment - WAITING_SECONDS)
        .group_by(Vhs.slug).order_by(func.min(HelpRequest.created_at)))]
    admin = exists().where(ConsoleRole.account_id == Account.id, Account.vhs_id == Vhs.id,
                           ConsoleRole.role == Role.ADMIN, Account.status == Status.ACTIVE)
    people = exists().where(Account.vhs_id == Vhs.id)
    without_admin = list(session.scalars(select(Vhs.slug).where(
        Vhs.onboarded, Vhs.adapter.is_not(None) | people, ~admin).order_by(Vhs.slug)))
    # failing: no answer since the first failure after the last answer, over an hour ago
    answered = (select(func.coalesce(func.max(EligibilityCheck.checked_at), 0))
                .join(Vhs, Vhs.id == EligibilityCheck.vhs_id)
                .where(Vhs.slug == AuditEvent.vhs).scalar_subquery())
    failing = [(slug, since) for slug, since in session.execute(
        select(AuditEvent.vhs, func.min(AuditEvent.at)).where(
            AuditEvent.kind == "program_unavailable", AuditEvent.at > answered,
            AuditEvent.at >= moment - 7 * 86400)
        .group_by(AuditEvent.vhs)
        .having(func.min(AuditEvent.at) <= moment - FAILING_SECONDS,
                func.max(AuditEvent.at) >= moment - 86400)
        .order_by(func.min(AuditEvent.at)))]
    return waiting, without_admin, failing
