"""May this person have an account? The VHS's adapter answers; we cache and forgive briefly.

- A VHS without an adapter admits only accounts an administrator created.
- An answer is reused for IDP_ELIGIBILITY_CACHE_SECONDS (per VHS and address, in the
  database, so every instance shares it).
- When the program is unreachable, a person found eligible within
  IDP_ELIGIBILITY_GRACE_SECONDS is still admitted; for anyone else ``AdapterUnavailable``
  passes on to the caller.
Adapters are built once per VHS and rebuilt when its adapter configuration changes. What
the provider keeps for them to read (KMA links, pushed lists) is ``idp.directory``; how a
program answered lately, and its connection test, ``idp.programs``.
"""

from __future__ import annotations

import time

from flask import Flask, current_app
from sqlalchemy import select, update

from adapters import registry
from adapters.address import clean
from adapters.base import ELIGIBLE, Adapter, AdapterUnavailable, Context, Decision

from . import audit, db, directory, leavers, metrics, movers
from .built import PerVhs
from .models import Account, EligibilityCheck, Vhs, now
from .sealing import seal, unseal


def build(vhs: Vhs, name: str, options: dict) -> Adapter:
    """Build (and so validate) adapter ``name`` for ``vhs``."""
    def build_inner(inner_name, inner_options):
        return registry.build(inner_name, inner_options, context)

    context = Context(vhs=vhs.slug, build=build_inner, links=directory.Links(),
                      entries=directory.entries_of(vhs.id))
    return registry.build(name, options, context)


def adapter_for(vhs: Vhs) -> Adapter | None:
    """The VHS's adapter, built once and rebuilt after its configuration changed."""
    if not vhs.adapter:
        return None
    return current_app.extensions["idp.adapters"].get(
        vhs.id, vhs.adapter_changed_at, lambda: build(
            vhs, vhs.adapter, unseal(vhs.adapter_config) if vhs.adapter_config else {}))


def ask(vhs: Vhs, address: str, react: bool = True) -> Decision:
    """The adapter's answer now (no cache), remembered with its answer time for the next
    logins and the console; AdapterUnavailable passes through, as an audit event too.
    The person's account follows the answer (``idp.leavers``) unless ``react`` is False."""
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
    moment, cleaned = now(), clean(address).value
    remember(vhs, cleaned, decision, moment, round(seconds * 1000))
    if react:
        follow(vhs, adapter, cleaned, decision, moment)
    return decision


def follow(vhs: Vhs, adapter: Adapter, address: str, decision: Decision, moment: int) -> None:
    """The account of ``address`` follows the program's answer: a "no" ends its access and
    marks it as leaving, a "yes" takes it back (``idp.leavers``); an "unknown" for a user
    the program lists under another address makes it a mover (``idp.movers``). When the
    program cannot tell which, nothing changes."""
    account = leavers.account_at(vhs, address)
    if account is None:
        return
    if decision.eligible:
        leavers.said_yes(account)
        return
    try:
        moved = movers.found(vhs, adapter, [account], {address: decision})
    except AdapterUnavailable:
        return
    if moved:
        movers.moving(account, moved[account.id], moment)
    else:
        leavers.said_no(account, decision.status, moment)


def admits(account: Account) -> bool:
    """Whether the program lets the account's person in: it lists the address, or it lists
    the person under another one that they have not confirmed yet (a mover keeps access).
    AdapterUnavailable when that cannot be known."""
    return allows(account.vhs, account.address) or account.moving_to is not None


def allows(vhs: Vhs, typed_address: str) -> bool:
    """Whether the person may log in now; AdapterUnavailable when that cannot be known."""
    if not vhs.adapter:
        return True
    address = clean(typed_address).value
    record = db.session().scalar(select(EligibilityCheck).where(
        EligibilityCheck.vhs_id == vhs.id, EligibilityCheck.address == address))
    moment = now()
    if record and moment - record.checked_at < current_app.config["ELIGIBILITY_CACHE_SECONDS"]:
        return record.status == ELIGIBLE
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


def remember(vhs: Vhs, address: str, decision: Decision, moment: int, latency_ms: int) -> None:
    """Store the answer, whether or not another instance stored one meanwhile (upsert)."""
    user_id = decision.person.user_id[:200] if decision.person is not None else None
    values = {"vhs_id": vhs.id, "address": address, "status": decision.status,
              "checked_at": moment, "latency_ms": latency_ms, "program_user_id": user_id}
    changes = {"status": decision.status, "checked_at": moment, "latency_ms": latency_ms}
    if user_id is not None:  # an "unknown" keeps the id of the user the address was
        changes["program_user_id"] = user_id
    if decision.eligible:
        values["last_eligible_at"] = changes["last_eligible_at"] = moment
    statement = db.insert(EligibilityCheck).values(**values)
    db.session().execute(statement.on_conflict_do_update(
        index_elements=["vhs_id", "address"], set_=changes))


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
