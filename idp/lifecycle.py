"""The lifecycle pass: every account whose eligibility a Verwaltungsprogramm decides is put to
that program again, so that who leaves loses access everywhere without signing in.

One pass at one VHS (``run_at``):

1. the accounts due (no answer for their address within IDP_LIFECYCLE_CHECK_HOURS, the
   oldest first) are asked, in batches where the adapter answers many addresses at once
   (``check_many``), at most IDP_LIFECYCLE_CHECKS_PER_MINUTE addresses a minute;
2. each answer feeds the eligibility cache, as a sign-in's would;
3. the brake: when the "no" answers of the period (this round's and the leavers of the
   last IDP_LIFECYCLE_CHECK_HOURS) are more than IDP_LEAVER_BRAKE_PERCENT of the accounts
   answered for in it (and at least 5), the pass ends no access there (a KuferSQL upgrade
   that emptied its user table, a new mail domain), and the audit records it once an hour
   for the VHS's administrators and ITEM;
4. otherwise every account follows its answer (``idp.leavers``): a "no" ends its access
   and marks it as leaving, a "yes" takes it back; an "unknown" for a user the program
   lists under another address is a mover (``idp.movers``), asked by mail to confirm it,
   who keeps access and does not count for the brake;
5. closed leavers past IDP_LEAVER_DELETE_DAYS are deleted, and leavers whose grace period
   is over are closed (the same brake); a period of 0 acts at the next pass.

A program that cannot be reached, times out or answers garbage changes nothing: the pass
at that VHS stops, and the failure is recorded as a sign-in's would be.
``vhskoop-idp lifecycle run`` runs a pass now.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from adapters.base import ELIGIBLE, AdapterUnavailable, Decision

from . import audit, db, eligibility, leavers, metrics, movers
from .models import Account, AuditEvent, EligibilityCheck, LifecycleLease, Status, Vhs, now

BATCH = 200  # addresses put to a program in one check_many
LEASE_SECONDS = 600  # a worker that died holding a VHS's pass frees it after this


@dataclass
class Pass:
    """What one pass at one VHS found and did."""

    vhs: str
    checked: int = 0
    said_yes: int = 0
    said_no: int = 0
    ended: int = 0  # accounts whose access ended now (leaving from this pass on)
    moved: int = 0  # movers: the program lists the person under another address
    back: int = 0  # leavers and closed accounts the program lists again
    closed: int = 0
    deleted: int = 0
    braked: bool = False
    failed: str | None = None  # why the program could not answer

    def line(self) -> str:
        """As ``lifecycle run`` prints it."""
        if self.failed:
            state = f"program unavailable ({self.failed}); nothing changed"
        elif self.braked:
            state = "BRAKED: too many would leave at once; nothing changed"
        else:
            state = (f"{self.ended} access ended, {self.moved} moving, {self.back} back, "
                     f"{self.closed} closed, {self.deleted} deleted")
        return (f"{self.vhs}: {self.checked} checked ({self.said_yes} yes, {self.said_no} no); "
                + state)


def run(moment: int, vhs: Vhs | None = None, dry_run: bool = False,
        sleep: Callable[[float], None] = time.sleep) -> list[Pass]:
    """One pass at ``vhs``, or at every VHS with a program, each VHS committed on its own
    (a pass over a thousand VHS neither holds one long transaction nor keeps every account
    it read in memory)."""
    ids = [vhs.id] if vhs is not None else list(db.session().scalars(
        select(Vhs.id).where(Vhs.adapter.is_not(None)).order_by(Vhs.slug)))
    done = []
    for vhs_id in ids:
        place = db.session().get(Vhs, vhs_id)
        if place is None or not place.adapter:
            continue
        done.append(run_at(place, moment, dry_run, sleep))
        db.session().commit()
        db.session().expunge_all()
    return done


def due(vhs: Vhs, moment: int, limit: int | None = None) -> list[Account]:
    """The VHS's accounts whose program answer is older than IDP_LIFECYCLE_CHECK_HOURS (or
    missing), the oldest first."""
    since = moment - current_app.config["LIFECYCLE_CHECK_HOURS"] * 3600
    query = (select(Account).outerjoin(EligibilityCheck, and_(
        EligibilityCheck.vhs_id == Account.vhs_id, EligibilityCheck.address == Account.address))
        .where(Account.vhs_id == vhs.id, Account.status.in_(leavers.WATCHED),
               or_(EligibilityCheck.id.is_(None), EligibilityCheck.checked_at <= since))
        .order_by(func.coalesce(EligibilityCheck.checked_at, 0), Account.id))
    if limit is not None:
        query = query.limit(limit)
    return list(db.session().scalars(query))


def run_at(vhs: Vhs, moment: int, dry_run: bool = False,
           sleep: Callable[[float], None] = time.sleep, limit: int | None = None) -> Pass:
    """One pass at one VHS (see the module's description)."""
    done = Pass(vhs.slug)
    accounts = due(vhs, moment, limit)
    try:
        adapter = eligibility.adapter_for(vhs)
        answers = _answers(vhs, adapter, [account.address for account in accounts], sleep)
        moved = movers.found(vhs, adapter, accounts, answers)
    except AdapterUnavailable as error:
        done.failed = str(error)[:200]
        audit.record("program_unavailable", vhs=vhs.slug, reason="unavailable",
                     detail=vhs.adapter)
        return done
    done.checked = len(accounts)
    done.said_yes = sum(1 for decision in answers.values() if decision.eligible)
    done.said_no = done.checked - done.said_yes
    leaving = [a for a in accounts
               if not answers[a.address].eligible and a.status == Status.ACTIVE
               and a.leaving_since is None and a.id not in moved]
    coming = [a for a in accounts if answers[a.address].eligible
              and (a.leaving_since is not None or a.status == Status.LEFT)]
    recent, answered = _period_counts(vhs, moment)
    answered += len(accounts)  # each was due: its answer was older than the period
    done.braked = _brake(recent + len(leaving), answered)
    done.ended = 0 if done.braked else len(leaving)
    done.back = len(coming)
    done.moved = len(moved)
    if dry_run:
        done.closed = 0 if done.braked else len(leavers.closable(vhs, moment))
        return done
    for account in accounts:
        decision = answers[account.address]
        eligibility.remember(vhs, account.address, decision, moment, 0)
        if account.id in moved:
            movers.moving(account, moved[account.id], moment)
        elif decision.eligible:
            leavers.said_yes(account)
        elif not done.braked:
            leavers.said_no(account, decision.status, moment)
    done.deleted = leavers.delete_due(moment, vhs)  # before closing: 0 days is the next pass
    closable = [] if done.braked else leavers.closable(vhs, moment)  # with this pass's answers
    going = len(closable) if closable else recent + len(leaving)
    if _brake(len(closable), answered):
        done.braked, closable = True, []
    if done.braked and not _braked_lately(vhs, moment):
        audit.record("lifecycle_braked", vhs=vhs.slug,
                     detail=f"{going}/{answered}")  # leavers / accounts answered for
    leavers.close(closable, moment)
    done.closed = len(closable)
    metrics.count_lifecycle(vhs.slug, done.checked, done.ended, done.moved, done.closed,
                            done.deleted, done.braked)
    return done


def _brake(count: int, answered: int) -> bool:
    """Whether ``count`` leavers among the ``answered`` accounts of one period are too many
    to let go at once (IDP_LEAVER_BRAKE_PERCENT, and at least 5)."""
    return count >= 5 and count * 100 > current_app.config["LEAVER_BRAKE_PERCENT"] * answered


def _period_counts(vhs: Vhs, moment: int) -> tuple[int, int]:
    """Of the VHS's active accounts, how many became leavers within the last
    IDP_LIFECYCLE_CHECK_HOURS, and how many of its accounts the program answered for
    within it. The worker asks a share of the accounts each round, so the brake judges
    the whole period: an emptied user table is stopped after its first few "no"s, not
    after a fifth of the VHS."""
    since = moment - current_app.config["LIFECYCLE_CHECK_HOURS"] * 3600
    session = db.session()
    confirmed = _last(vhs, CONFIRM)  # leavers an operator let through count no more
    recent = session.scalar(select(func.count()).select_from(Account).where(
        Account.vhs_id == vhs.id, Account.status == Status.ACTIVE,
        Account.leaving_since >= max(since, (confirmed.at + 1) if confirmed else 0))) or 0
    answered = session.scalar(select(func.count()).select_from(Account).join(
        EligibilityCheck, and_(EligibilityCheck.vhs_id == Account.vhs_id,
                               EligibilityCheck.address == Account.address)).where(
        Account.vhs_id == vhs.id, Account.status.in_(leavers.WATCHED),
        EligibilityCheck.checked_at > since)) or 0
    return recent, answered


CONFIRM, DISMISS = "lifecycle confirm", "lifecycle dismiss"  # an operator's answer


def _last(vhs: Vhs, act: str) -> AuditEvent | None:
    """The newest audit event of the administrative ``act`` at the VHS."""
    return db.session().scalar(select(AuditEvent).where(
        AuditEvent.kind == "admin", AuditEvent.detail == act, AuditEvent.vhs == vhs.slug)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1))


def braked(vhs: Vhs, moment: int) -> AuditEvent | None:
    """The brake's event at the VHS within the last day that no operator has answered
    yet (confirmed or dismissed), if there is one."""
    event = db.session().scalar(select(AuditEvent).where(
        AuditEvent.kind == "lifecycle_braked", AuditEvent.vhs == vhs.slug,
        AuditEvent.at > moment - 86400).order_by(AuditEvent.at.desc()).limit(1))
    if event is None:
        return None
    answered = [found.at for found in (_last(vhs, CONFIRM), _last(vhs, DISMISS)) if found]
    return None if answered and max(answered) >= event.at else event


def confirm(vhs: Vhs, moment: int) -> int:
    """An operator confirms a braked pass: every active account whose last answer from the
    program is "no" now ends its access as a leaver; how many. The caller records the act
    (from then on those leavers no longer count for the brake)."""
    found = db.session().execute(select(Account, EligibilityCheck.status).join(
        EligibilityCheck, and_(EligibilityCheck.vhs_id == Account.vhs_id,
                               EligibilityCheck.address == Account.address))
        .where(Account.vhs_id == vhs.id, Account.status == Status.ACTIVE,
               Account.leaving_since.is_(None), EligibilityCheck.status != ELIGIBLE)).all()
    for account, status in found:
        leavers.said_no(account, status, moment)
    return len(found)


def _braked_lately(vhs: Vhs, moment: int) -> bool:
    """Whether the brake was recorded at the VHS within the last hour (once is enough)."""
    return db.session().scalar(select(AuditEvent.id).where(
        AuditEvent.kind == "lifecycle_braked", AuditEvent.vhs == vhs.slug,
        AuditEvent.at > moment - 3600).limit(1)) is not None


def _answers(vhs: Vhs, adapter, addresses: list[str],
             sleep: Callable[[float], None]) -> dict[str, Decision]:
    """The program's answer for each address, in batches, within the per-minute budget;
    AdapterUnavailable when it cannot answer (then nothing of this pass counts)."""
    budget = current_app.config["LIFECYCLE_CHECKS_PER_MINUTE"]
    answers: dict[str, Decision] = {}
    window_start, used, step = time.monotonic(), 0, min(BATCH, budget)
    for start in range(0, len(addresses), step):
        batch = addresses[start:start + step]
        if used + len(batch) > budget:
            sleep(max(0.0, 60 - (time.monotonic() - window_start)))
            window_start, used = time.monotonic(), 0
        started = time.perf_counter()
        try:
            found = check_many(adapter, batch)
        except AdapterUnavailable:
            metrics.timed_program(vhs.slug, vhs.adapter, time.perf_counter() - started, True)
            raise
        metrics.timed_program(vhs.slug, vhs.adapter, time.perf_counter() - started, False)
        if set(found) != set(batch) or not all(isinstance(d, Decision) for d in found.values()):
            raise AdapterUnavailable(f"the {vhs.adapter} adapter answered other addresses "
                                     "than it was asked")
        answers.update(found)
        used += len(batch)
    return answers


def check_many(adapter, addresses: list[str]) -> dict[str, Decision]:
    """The adapter's answers for many addresses: its own ``check_many`` where it has one
    (one query for a batch), else one ``check`` each."""
    many = getattr(adapter, "check_many", None)
    if many is not None:
        return dict(many(addresses))
    return {address: adapter.check(address) for address in addresses}


def watched(vhs: Vhs) -> int:
    """How many accounts of the VHS its program's answers change."""
    return db.session().scalar(select(func.count()).select_from(Account).where(
        Account.vhs_id == vhs.id, Account.status.in_(leavers.WATCHED))) or 0


def spread(vhs: Vhs, interval: float) -> int:
    """How many accounts one round (every ``interval`` s) asks, so that all of them are
    asked within IDP_LIFECYCLE_CHECK_HOURS, spread over the period rather than in a burst."""
    period = current_app.config["LIFECYCLE_CHECK_HOURS"] * 3600
    return max(1, math.ceil(watched(vhs) * interval / period))


def claim(vhs_id: int, holder: str, moment: int) -> bool:
    """Take the VHS's pass for ``holder`` (committed at once); False while another worker
    holds it."""
    session = db.session()
    session.execute(db.insert(LifecycleLease).values(vhs_id=vhs_id, lease_until=0)
                    .on_conflict_do_nothing(index_elements=["vhs_id"]))
    taken = session.execute(update(LifecycleLease).where(
        LifecycleLease.vhs_id == vhs_id, LifecycleLease.lease_until < moment).values(
        lease_until=moment + LEASE_SECONDS, holder=holder[:100])).rowcount == 1
    session.commit()
    return taken


def release(vhs_id: int, holder: str) -> None:
    """Give the VHS's pass back (committed at once)."""
    db.session().execute(update(LifecycleLease).where(
        LifecycleLease.vhs_id == vhs_id, LifecycleLease.holder == holder[:100]).values(
        lease_until=0, last_pass_at=now()))
    db.session().commit()


def round_at(vhs_id: int, holder: str, interval: float) -> Pass | None:
    """A worker's share of the pass at one VHS: the accounts due now, as many as the spread
    asks for; None when another worker holds the VHS. Commits what it did."""
    if not claim(vhs_id, holder, now()):
        return None
    try:
        vhs = db.session().get(Vhs, vhs_id)
        if vhs is None or not vhs.adapter:
            return None
        done = run_at(vhs, now(), limit=spread(vhs, interval))
        db.session().commit()
        return done
    finally:
        db.discard()
        release(vhs_id, holder)
