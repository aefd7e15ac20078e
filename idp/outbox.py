"""Delivering what waits in an outbox table (mails, back-channel logouts).

Due rows are read (on PostgreSQL with FOR UPDATE SKIP LOCKED), then each is claimed, just
before it is sent, with a conditional UPDATE that sets a lease of its own: only one worker
wins a row, on SQLite as on PostgreSQL. The caller's ``deliver(row)`` answers what became
of it. The rows carry the columns of ``models.Deliverable``.

A delivery whose outcome the database did not take (it went away, or hung, right after
the mail server accepted the mail) is remembered by the worker and written at the start
of its next rounds, as long as the row still carries this worker's lease: the mail is
not sent again when the lease runs out. Only a worker that dies in that moment leaves a
row to be sent twice.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from sqlalchemy import or_, select, update

from . import db
from .models import now

STATE = ("attempts", "next_attempt_at", "lease_until", "delivered_at", "failed_at",
         "last_error")  # what ``deliver`` changes on a row


def deliver_due(model, deliver: Callable, lease_seconds: int, counts: dict[str, int],
                limit: int = 50) -> dict[str, int]:
    """Claim due rows of ``model`` one by one and ``deliver`` each; count the outcomes.
    An unavailable database ends the round (raised); what was sent is kept to be written."""
    session = db.session()
    record_unrecorded(model)
    moment = now()
    due = list(session.scalars(
        select(model.id).where(
            model.delivered_at.is_(None), model.failed_at.is_(None),
            model.next_attempt_at <= moment,
            or_(model.lease_until.is_(None), model.lease_until < moment))
        .order_by(model.id).limit(limit).with_for_update(skip_locked=True)))
    session.commit()
    for row_id in due:
        moment = now()  # a long round must not hand out leases that are over already
        lease = moment + lease_seconds
        claimed = session.execute(
            update(model).where(
                model.id == row_id, model.delivered_at.is_(None), model.failed_at.is_(None),
                or_(model.lease_until.is_(None), model.lease_until < moment))
            .values(lease_until=lease)).rowcount == 1
        session.commit()
        if not claimed:  # another worker has it
            continue
        row = session.get(model, row_id)
        outcome = deliver(row)
        state = {name: getattr(row, name) for name in STATE}
        try:
            session.commit()
        except db.UNAVAILABLE:
            _unrecorded()[model, row_id] = (lease, state)
            raise
        counts[outcome] += 1
    return counts


def _unrecorded() -> dict:
    return current_app.extensions.setdefault("idp.outbox.unrecorded", {})


def record_unrecorded(model) -> int:
    """Write the outcomes of deliveries that the database did not take when they
    happened, where the row still carries the lease they were made under; how many."""
    session, written = db.session(), 0
    for (kind, row_id), (lease, state) in list(_unrecorded().items()):
        if kind is not model:
            continue
        written += session.execute(update(model).where(
            model.id == row_id, model.lease_until == lease).values(**state)).rowcount
        session.commit()
        del _unrecorded()[kind, row_id]
    if written:
        current_app.logger.warning("%d deliveries of %s written after the database was "
                                   "back", written, model.__tablename__)
    return written


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
