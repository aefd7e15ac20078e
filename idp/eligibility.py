"""May this person have an account? The VHS's adapter answers; we cache and forgive briefly.

- A VHS without an adapter admits only accounts an administrator created.
- An answer is reused for IDP_ELIGIBILITY_CACHE_SECONDS (per VHS and address, in the
  database, so every instance shares it).
- When the program is unreachable, a person found eligible within
  IDP_ELIGIBILITY_GRACE_SECONDS is still admitted; anyone else gets CheckUnavailable.
Adapters are built once per VHS and rebuilt when its adapter configuration changes.
"""

from __future__ import annotations

import time

from flask import Flask, current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from adapters import registry
from adapters.address import clean
from adapters.base import Adapter, AdapterUnavailable, Context, Decision

from . import db
from .built import PerVhs
from .models import DirectoryEntry, EligibilityCheck, KmaLink, Vhs, now
from .sealing import seal, unseal


class CheckUnavailable(Exception):
    """The Verwaltungsprogramm cannot be asked now, and no recent answer may stand in."""


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
    """The adapter's answer now (no cache); AdapterUnavailable passes through."""
    adapter = adapter_for(vhs)
    if adapter is None:
        raise LookupError(f"VHS {vhs.slug} has no adapter")
    return adapter.check(address)


def allows(vhs: Vhs, typed_address: str) -> bool:
    """Whether the person may log in now; CheckUnavailable when that cannot be known."""
    if not vhs.adapter:
        return True
    address = clean(typed_address).value
    session = db.session()
    record = session.scalar(select(EligibilityCheck).where(
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
        raise CheckUnavailable(str(error)) from None
    if record is None:
        record = EligibilityCheck(vhs_id=vhs.id, address=address)
        session.add(record)
    record.status = decision.status
    record.checked_at = moment
    if decision.eligible:
        record.last_eligible_at = moment
    else:
        current_app.logger.info("eligibility at vhs %s: %s", vhs.slug, decision.status)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # another instance recorded the same address at the same time
    return decision.eligible


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
    session = db.session()
    # Ask the new configuration at the next login; keep last_eligible_at for the grace period.
    session.execute(update(EligibilityCheck).where(EligibilityCheck.vhs_id == vhs.id)
                    .values(checked_at=0))
    session.commit()


def link(vhs: Vhs, typed_address: str) -> str:
    """Record a KMA link; returns the cleaned address."""
    address = clean(typed_address).value
    exists = db.session().scalar(select(KmaLink.id).where(KmaLink.vhs_id == vhs.id,
                                                          KmaLink.address == address))
    if not exists:
        db.session().add(KmaLink(vhs_id=vhs.id, address=address))
        _forget(vhs, address)
        db.session().commit()
    return address


def unlink(vhs: Vhs, typed_address: str) -> bool:
    """Remove a KMA link; whether there was one."""
    address = clean(typed_address).value
    removed = db.session().execute(delete(KmaLink).where(
        KmaLink.vhs_id == vhs.id, KmaLink.address == address)).rowcount
    _forget(vhs, address)
    db.session().commit()
    return bool(removed)


def replace_directory(vhs: Vhs, entries: list[dict]) -> int:
    """Replace the VHS's pushed user list in one transaction; returns the entry count."""
    session = db.session()
    session.execute(delete(DirectoryEntry).where(DirectoryEntry.vhs_id == vhs.id))
    session.add_all(DirectoryEntry(
        vhs_id=vhs.id, email=e["email"], address=clean(e["email"]).value, user_id=e["id"],
        name=e["name"], active=e["active"], released=e["released"]) for e in entries)
    session.execute(delete(EligibilityCheck).where(EligibilityCheck.vhs_id == vhs.id))
    session.commit()
    return len(entries)


def _forget(vhs: Vhs, address: str) -> None:
    db.session().execute(delete(EligibilityCheck).where(
        EligibilityCheck.vhs_id == vhs.id, EligibilityCheck.address == address))
