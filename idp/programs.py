"""How a VHS's Verwaltungsprogramm has been answering: the console's program page
(answers, latency, failures since a time) and its "Verbindung testen"."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select

from adapters.base import Decision

from . import db
from .eligibility import adapter_for
from .models import AuditEvent, EligibilityCheck, Vhs

PROBE_ADDRESS = "verbindungstest@example.invalid"


@dataclass(frozen=True)
class ProgramHealth:
    """How the VHS's program answered since a time: for the console's program page."""

    answers: int
    last_answer_at: int | None
    median_ms: int | None
    slowest_ms: int | None
    failures: int
    last_failure_at: int | None


def health(vhs: Vhs, since: int) -> ProgramHealth:
    """The program's answers (remembered checks) and failures (audit events) since ``since``."""
    rows = db.session().execute(select(EligibilityCheck.checked_at, EligibilityCheck.latency_ms)
                                .where(EligibilityCheck.vhs_id == vhs.id,
                                       EligibilityCheck.checked_at >= since)).all()
    latencies = sorted(ms for _, ms in rows if ms is not None)
    failed = db.session().execute(select(func.count(), func.max(AuditEvent.at)).where(
        AuditEvent.vhs == vhs.slug, AuditEvent.kind == "program_unavailable",
        AuditEvent.at >= since)).one()
    return ProgramHealth(
        answers=len(rows), last_answer_at=max((at for at, _ in rows), default=None),
        median_ms=latencies[len(latencies) // 2] if latencies else None,
        slowest_ms=latencies[-1] if latencies else None, failures=failed[0],
        last_failure_at=failed[1])


def probe(vhs: Vhs) -> tuple[Decision, int]:
    """Ask the program about an address nobody has ("Verbindung testen"): its answer and
    the milliseconds it took; AdapterUnavailable when it cannot be reached."""
    adapter = adapter_for(vhs)
    if adapter is None:
        raise LookupError(f"VHS {vhs.slug} has no adapter")
    started = time.perf_counter()
    decision = adapter.check(PROBE_ADDRESS)
    return decision, round((time.perf_counter() - started) * 1000)
