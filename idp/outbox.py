"""Delivering what waits in an outbox table (mails, back-channel logouts).

Due rows are read (on PostgreSQL with FOR UPDATE SKIP LOCKED), then each is claimed with
a conditional UPDATE that sets a lease: only one worker wins a row, on SQLite as on
PostgreSQL. The caller's ``deliver(row)`` answers what became of it. The rows carry the
columns of ``models.Deliverable``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import or_, select, update

from . import db
from .models import now


def deliver_due(model, deliver: Callable, lease_seconds: int, counts: dict[str, int],
                limit: int = 50) -> dict[str, int]:
    """Claim due rows of ``model`` one by one and ``deliver`` each; count the outcomes."""
    session = db.session()
    moment = now()
    due = list(session.scalars(
        select(model.id).where(
            model.delivered_at.is_(None), model.failed_at.is_(None),
            model.next_attempt_at <= moment,
            or_(model.lease_until.is_(None), model.lease_until < moment))
        .order_by(model.id).limit(limit).with_for_update(skip_locked=True)))
    session.commit()
    for row_id in due:
        claimed = session.execute(
            update(model).where(
                model.id == row_id, model.delivered_at.is_(None), model.failed_at.is_(None),
                or_(model.lease_until.is_(None), model.lease_until < moment))
            .values(lease_until=moment + lease_seconds)).rowcount == 1
        session.commit()
        if claimed:  # else another worker has it
            counts[deliver(session.get(model, row_id))] += 1
            session.commit()
    return counts


def retry_later(row, error: Exception, first_delay: int, give_up_after: int,
                longest_delay: int = 3600) -> bool:
    """Record a failed attempt with exponential back-off (``first_delay`` doubling up to
    ``longest_delay``); True when it is given up."""
    moment = now()
    row.attempts += 1
    row.lease_until = None
    row.last_error = f"{type(error).__name__}: {error}"[:300]
    if moment - row.created_at >= give_up_after:
        row.failed_at = moment
        return True
    row.next_attempt_at = moment + min(first_delay * 2 ** min(row.attempts - 1, 20),
                                       longest_delay)
    return False
