"""May this person have an account? The VHS's adapter answers; we cache and forgive briefly.

- A VHS without an adapter admits only accounts an administrator created.
- An answer is reused for IDP_ELIGIBILITY_CACHE_SECONDS (per VHS and address, in the
  database, so every instance shares it).
- When the program is unreachable, a person found eligible within
  IDP_ELIGIBILITY_GRACE_SECONDS is still admitted; for anyone else ``AdapterUnavailable``
  passes on to the caller.
Adapters are built once per VHS and rebuilt when its adapter configuration changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import delete, func, select, update

from adapters import directory, registry
from adapters.address import clean
from adapters.base import Adapter, AdapterUnavailable, Context, Decision

from . import audit, db, metrics
from .built import PerVhs
from .models import AuditEvent, DirectoryEntry, EligibilityCheck, KmaLink, Vhs, now
from .sealing import seal, unseal


class _Links:
    """The provider's KMA links, as adapters.kma asks for them."""

    def is_linked(self, vhs: str, address: str) -> bool:
        return db.session().scalar(
            select(KmaLink.id).join(Vhs).where(Vhs.slug == vhs, KmaLink.address == address)
        ) is not None


def _pushed_entries(vhs_id: int):
    def entries(address: str) -> list[dict]:
        rows = db.session().scalars(select(DirectoryEntry).where(
            DirectoryEntry.vhs_id == vhs_id, DirectoryEntry.address == address))
        return [{"email": r.email, "id": r.user_id, "name": r.name, "active": r.active,
                 "released": r.released} for r in rows]
    return entries


def build(vhs: Vhs, name: str, options: dict) -> Adapter:
    """Build (and so validate) adapter ``name`` for ``vhs``."""
    def build_inner(inner_name, inner_options):
        return registry.build(inner_name, inner_options, context)

    context = Context(vhs=vhs.slug, build=build_inner, links=_Links(),
                      entries=_pushed_entries(vhs.id))
    return registry.build(name, options, context)


def adapter_for(vhs: Vhs) -> Adapter | None:
    """The VHS's adapter, built once and rebuilt after its configuration changed."""
    if not vhs.adapter:
        return None
    return current_app.extensions["idp.adapters"].get(
        vhs.id, vhs.adapter_changed_at, lambda: build(
            vhs, vhs.adapter, unseal(vhs.adapter_config) if vhs.adapter_config else {}))


def ask(vhs: Vhs, address: str) -> Decision:
    """The adapter's answer now (no cache), remembered with its answer time for the next
    logins and the console; AdapterUnavailable passes through, as an audit event too."""
    adapter = adapter_for(vhs)
    if adapter is None:
        raise LookupError(f"VHS {vhs.slug} has no adapter")
    started = time.perf_counter()
    try:
        decision = adapter.check(address)
    except AdapterUnavailable:
        metrics.timed_program(vhs.slug, vhs.adapter, time.perf_counter() - started, True)
        audit.record("program_unavailable", vhs=vhs.slug, reason="unavailable",
                     detail=vhs.adapter)
        raise
    seconds = time.perf_counter() - started
    metrics.timed_program(vhs.slug, vhs.adapter, seconds, False)
    _remember(vhs, clean(address).value, decision, now(), round(seconds * 1000))
    return decision


def allows(vhs: Vhs, typed_address: str) -> bool:
    """Whether the person may log in now; AdapterUnavailable when that cannot be known."""
    if not vhs.adapter:
        return True
    address = clean(typed_address).value
    record = db.session().scalar(select(EligibilityCheck).where(
        EligibilityCheck.vhs_id == vhs.id, EligibilityCheck.address == address))
    moment = now()
    if record and moment - record.checked_at < current_app.config["ELIGIBILITY_CACHE_SECONDS"]:
        return record.status == "eligible"
    try:
        decision = ask(vhs, typed_address)
    except AdapterUnavailable as error:
        grace = current_app.config["ELIGIBILITY_GRACE_SECONDS"]
        if (grace and record and record.last_eligible_at
                and moment - record.last_eligible_at <= grace):
            current_app.logger.warning("eligibility check at vhs %s unavailable (%s); "
                                       "admitted within the grace period", vhs.slug, error)
            return True
        current_app.logger.warning("eligibility check at vhs %s unavailable (%s); refused",
                                   vhs.slug, error)
        raise
    if not decision.eligible:
        current_app.logger.info("eligibility at vhs %s: %s", vhs.slug, decision.status)
    return decision.eligible


def _remember(vhs: Vhs, address: str, decision: Decision, moment: int, latency_ms: int) -> None:
    """Store the answer, whether or not another instance stored one meanwhile (upsert)."""
    values = {"vhs_id": vhs.id, "address": address, "status": decision.status,
              "checked_at": moment, "latency_ms": latency_ms}
    changes = {"status": decision.status, "checked_at": moment, "latency_ms": latency_ms}
    if decision.eligible:
        values["last_eligible_at"] = changes["last_eligible_at"] = moment
    statement = db.insert(EligibilityCheck).values(**values)
    db.session().execute(statement.on_conflict_do_update(
        index_elements=["vhs_id", "address"], set_=changes))


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


def init_app(app: Flask) -> None:
    """A per-app cache of built adapters."""
    app.extensions["idp.adapters"] = PerVhs()


def configure(vhs: Vhs, name: str | None, options: dict) -> None:
    """Give ``vhs`` the adapter ``name`` (None: none); built first, so options are checked."""
    if name is None:
        vhs.adapter, vhs.adapter_config = None, None
    else:
        build(vhs, name, options).close()
        vhs.adapter, vhs.adapter_config = name, seal(options)
    vhs.adapter_changed_at = time.time_ns() // 1000  # instances compare it to rebuild
    # Ask the new configuration at the next login; keep last_eligible_at for the grace period.
    db.session().execute(update(EligibilityCheck).where(EligibilityCheck.vhs_id == vhs.id)
                         .values(checked_at=0))


def link(vhs: Vhs, typed_address: str) -> str:
    """Record a KMA link; returns the cleaned address."""
    address = clean(typed_address).value
    exists = db.session().scalar(select(KmaLink.id).where(KmaLink.vhs_id == vhs.id,
                                                          KmaLink.address == address))
    if not exists:
        db.session().add(KmaLink(vhs_id=vhs.id, address=address))
        _forget(vhs, address)
    return address


def unlink(vhs: Vhs, typed_address: str) -> bool:
    """Remove a KMA link; whether there was one."""
    address = clean(typed_address).value
    removed = db.session().execute(delete(KmaLink).where(
        KmaLink.vhs_id == vhs.id, KmaLink.address == address)).rowcount
    _forget(vhs, address)
    return bool(removed)


def links(vhs_slug: str | None = None) -> list[tuple[str, str]]:
    """The KMA links as (VHS slug, address), of one VHS or all."""
    query = select(Vhs.slug, KmaLink.address).join(Vhs).order_by(Vhs.slug, KmaLink.address)
    if vhs_slug:
        query = query.where(Vhs.slug == vhs_slug)
    return [(slug, address) for slug, address in db.session().execute(query)]


def replace_directory(vhs: Vhs, entries: list[dict]) -> int:
    """Replace the VHS's pushed user list (in the caller's transaction); the entry count."""
    session = db.session()
    session.execute(delete(DirectoryEntry).where(DirectoryEntry.vhs_id == vhs.id))
    session.add_all(DirectoryEntry(
        vhs_id=vhs.id, email=e["email"], address=clean(e["email"]).value, user_id=e["id"],
        name=e["name"], active=e["active"], released=e["released"]) for e in entries)
    session.execute(delete(EligibilityCheck).where(EligibilityCheck.vhs_id == vhs.id))
    session.flush()
    return len(entries)


def import_directory(vhs: Vhs, data: bytes, kind: str) -> int:
    """Parse a pushed list (``json`` or ``csv``) and make it the VHS's list.

    Raises adapters.directory.DirectoryFormatError with the first problem found.
    """
    return replace_directory(vhs, directory.parse(data, kind))


def _forget(vhs: Vhs, address: str) -> None:
    db.session().execute(delete(EligibilityCheck).where(
        EligibilityCheck.vhs_id == vhs.id, EligibilityCheck.address == address))
