"""Help requests: a person who cannot get in asks their VHS, the VHS sees why, and the
provider finishes the job.

- ``ask``: the person followed the "Meine VHS um Hilfe bitten" link of a mail (so the
  mailbox is proven) and sent the request, with an optional message. The diagnosis runs
  once and is kept in the request as it said then. At most one open request per address
  and VHS: asking again adds nothing but the message.
- ``recheck``: the program is asked again (``recheck_due`` in the worker: every 10
  minutes on the first day, then hourly, for at most 7 days; "jetzt erneut prüfen" in the
  console at once). As soon as it says eligible, "Neuer Zugang" runs for the person (the
  activation mail goes out from the VHS's server) and the request closes as solved. A
  request a Kursmanagement-APP link would solve, or whose program has not answered for a
  day, needs ITEM (``needs_item``).
- ``close``: an administrator marks it done, or refuses it with a reason (mailed).
- ``queue`` and ``link_kma``: ITEM's operators see the requests that need ITEM and link a
  Kursmanagement-APP user with one click (the re-check then sends the activation mail).
- ``purge``: closed requests go after IDP_HELP_REQUEST_DAYS.
"""

from __future__ import annotations

import json

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import delete, func, select

from adapters.address import clean, is_plausible
from adapters.base import NOT_LINKED, AdapterUnavailable

from . import audit, db, diagnose, directory, eligibility, links, notices, selfservice, tenants
from .connectors import PortalUnavailable
from .models import EligibilityCheck, HelpRequest, HelpState, Vhs, now

MAX_MESSAGE = 1000  # characters of the person's message
FIRST_DAY = 86400
EARLY, LATER = 600, 3600  # re-check intervals: the first day, then
# IDP_HELP_RECHECK_SECONDS replaces the schedule above (the demo's 5 s show a fix in its
# program while one watches).
PER_ROUND = 20  # requests re-checked by one worker round at most


def open_of(vhs: Vhs, address: str) -> HelpRequest | None:
    """The open request of ``address`` at ``vhs``, if there is one."""
    return db.session().scalar(select(HelpRequest).where(
        HelpRequest.vhs_id == vhs.id, HelpRequest.address == address,
        HelpRequest.state == HelpState.OPEN))


def open_counts() -> dict[int, int]:
    """How many requests are open at each VHS (by id; none: not listed)."""
    return dict(db.session().execute(select(HelpRequest.vhs_id, func.count()).where(
        HelpRequest.state == HelpState.OPEN).group_by(HelpRequest.vhs_id)).all())


def ask(vhs_slug: str, typed: str, message: str | None) -> HelpRequest | None:
    """Open (or find) the request of a proven address; None for a VHS that is gone."""
    vhs = tenants.onboarded(vhs_slug)
    address = clean(typed).value
    if vhs is None or not is_plausible(address):
        return None
    message = (message or "").strip()[:MAX_MESSAGE] or None
    request = open_of(vhs, address)
    if request is not None:
        if message and not request.message:
            request.message = message
        return request
    with force_locale("de"):
        findings, _ = diagnose.diagnose_at(vhs, address)
        diagnosis = json.dumps([_kept(finding) for finding in findings], ensure_ascii=False)
    request = HelpRequest(vhs_id=vhs.id, vhs=vhs, address=address, message=message,
                          diagnosis=diagnosis, state=HelpState.OPEN, checks=0,
                          needs_item=_program_said(vhs, address) == NOT_LINKED,
                          created_at=now(), next_check_at=now() + _interval(0))
    db.session().add(request)
    db.session().flush()
    audit.record("help_request", vhs=vhs.slug, address=address)
    return request


def _kept(finding: diagnose.Finding) -> dict:
    """A finding as a request keeps it: passed, failed or information; its text; what to
    do (in the words of the moment it ran)."""
    return {"ok": finding.ok, "text": finding.text,
            "advice": str(finding.advice) if finding.advice else None}


def findings(request: HelpRequest) -> list[diagnose.Finding]:
    """The diagnosis as it was run when the request was opened."""
    return [diagnose.Finding.kept(item["ok"], item["text"], item.get("advice"))
            for item in json.loads(request.diagnosis or "[]")]


def problem(request: HelpRequest) -> str | None:
    """The first failed check of the kept diagnosis (None: none failed)."""
    return next((finding.text for finding in findings(request) if finding.ok is False), None)


def _program_said(vhs: Vhs, address: str) -> str | None:
    return db.session().scalar(select(EligibilityCheck.status).where(
        EligibilityCheck.vhs_id == vhs.id, EligibilityCheck.address == address))


def recheck(request: HelpRequest, actor: str | None = None) -> str:
    """Ask the program again; solve, keep waiting or expire. What happened, in a word:
    "solved", "expired", the program's answer, "unavailable", or "account_disabled" (the
    program agrees, but an administrator disabled the account here)."""
    moment = now()
    request.checks += 1
    request.last_checked_at = moment
    vhs = request.vhs
    try:
        decision = eligibility.ask(vhs, request.address) if vhs.adapter else None
    except AdapterUnavailable:
        decision = None
    age = moment - request.created_at
    if decision is not None and decision.eligible:
        try:
            outcome = selfservice.request_access(vhs.slug, request.address, "de", None,
                                                 decision=decision)
        except PortalUnavailable:  # its itm:PORTAL may own the address: ask again later
            request.next_check_at = moment + _interval(age)
            return "unavailable"
        if outcome == "disabled":  # disabled here on purpose: the VHS decides, not we
            request.next_check_at = moment + _interval(age)
            return "account_disabled"
        close(request, HelpState.SOLVED, actor or "re-check", detail=outcome)
        return HelpState.SOLVED
    if decision is not None:
        request.needs_item = decision.status == NOT_LINKED
    elif vhs.adapter and age >= FIRST_DAY:
        request.needs_item = True  # the program has not answered for a day
    if age >= links.HELP_SECONDS:
        close(request, HelpState.EXPIRED, actor or "re-check")
        return HelpState.EXPIRED
    request.next_check_at = moment + _interval(age)
    return decision.status if decision is not None else "unavailable"


def _interval(age: int) -> int:
    """Seconds to the next re-check of a request ``age`` seconds old."""
    return current_app.config["HELP_RECHECK_SECONDS"] or (EARLY if age < FIRST_DAY else LATER)


def recheck_due() -> dict[str, int]:
    """The worker's round: re-check the open requests that are due, each in a
    transaction of its own; how many were checked and solved."""
    due = db.session().scalars(select(HelpRequest.id).where(
        HelpRequest.state == HelpState.OPEN, HelpRequest.next_check_at <= now())
        .order_by(HelpRequest.next_check_at).limit(PER_ROUND)).all()
    db.discard()
    counts = {"checked": 0, "solved": 0}
    for request_id in due:
        try:
            outcome = db.transaction(lambda rid=request_id: recheck(
                db.session().get(HelpRequest, rid)))()
        except db.UNAVAILABLE:
            raise  # the database itself: the worker's round ends and waits for it
        except Exception:  # something unexpected: try this one again later, not every round
            current_app.logger.exception("re-check of help request %s failed", request_id)
            db.transaction(lambda rid=request_id: _later(rid))()
            outcome = "failed"
        counts["checked"] += 1
        counts["solved"] += outcome == HelpState.SOLVED
    return counts


def _later(request_id: int) -> None:
    db.session().get(HelpRequest, request_id).next_check_at = now() + LATER


def close(request: HelpRequest, state: str, actor: str, reason: str | None = None,
          detail: str | None = None) -> None:
    """Close ``request`` as ``state``; a refusal mails its reason to the person."""
    request.state = state
    request.closed_at = now()
    request.closed_by = actor[:100]
    request.next_check_at = None
    if state == HelpState.REJECTED:
        request.reason = reason
        notices.send(request.vhs, request.address, "help_rejected", interval=0,
                     reason=reason)
    audit.record("help_closed", vhs=request.vhs.slug, address=request.address, reason=state,
                 actor=actor, detail=detail)


def of_vhs(vhs: Vhs, limit: int = 200) -> list[HelpRequest]:
    """The VHS's requests: open ones first (oldest first), then the newest closed ones."""
    return list(db.session().scalars(select(HelpRequest).where(HelpRequest.vhs_id == vhs.id)
                                     .order_by(HelpRequest.state != HelpState.OPEN,
                                               HelpRequest.created_at.desc())
                                     .limit(limit)))


def of_vhs_by_id(vhs: Vhs, request_id: int) -> HelpRequest | None:
    """A request of ``vhs`` by its id (None for another VHS's)."""
    request = db.session().get(HelpRequest, request_id)
    return request if request is not None and request.vhs_id == vhs.id else None


def by_id(request_id: int) -> HelpRequest | None:
    """Any VHS's request by its id (ITEM's queue)."""
    return db.session().get(HelpRequest, request_id)


def queue(limit: int = 200) -> list[HelpRequest]:
    """ITEM's operator queue: the open requests that need ITEM, oldest first."""
    return list(db.session().scalars(select(HelpRequest).where(
        HelpRequest.state == HelpState.OPEN, HelpRequest.needs_item)
        .order_by(HelpRequest.created_at).limit(limit)))


def link_kma(request: HelpRequest, actor: str) -> str:
    """Link the person in the Kursmanagement-APP (what ITEM did there) and re-check at
    once: the activation mail goes out when the program now agrees."""
    directory.link(request.vhs, request.address)
    return recheck(request, actor)


def purge(before: int) -> int:
    """Remove the requests closed before ``before``; how many."""
    return db.session().execute(delete(HelpRequest).where(
        HelpRequest.state != HelpState.OPEN, HelpRequest.closed_at < before)).rowcount
