"""``vhskoop-idp diagnose``: the help page's troubleshooting, as one command.

Runs every check the help page lists for a VHS and an address and says which one fails:
VHS onboarded, adapter reachable, address found as typed or only after cleaning (naming
each removed character with code point and position, in the typed and in the stored
address), user active, "Im Internet anzeigen" set, KMA link present, itm:PORTAL login,
local account. The screen answers of the login and access pages never say any of this.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select

from adapters.address import CleanAddress, clean, is_plausible
from adapters.base import INACTIVE, NOT_LINKED, NOT_RELEASED, AdapterUnavailable, Decision

from . import accounts, db, eligibility, portals
from .connectors import PortalUnavailable
from .models import OutboxMail, Vhs

NOT_RELEASED_MESSAGE = "Der Login wurde nicht für den Außenstellen Login freigegeben."


@dataclass(frozen=True)
class Finding:
    """One check: passed (True), failed (False) or for information (None)."""

    ok: bool | None
    text: str

    def line(self) -> str:
        """As printed: a mark, then the text."""
        mark = {True: "[ok]  ", False: "[FAIL]", None: "[info]"}[self.ok]
        return f"{mark} {self.text}"


def _removed(cleaned: CleanAddress, which: str) -> str:
    return "; ".join(f"{r.describe()} of the {which} address" for r in cleaned.removed)


def diagnose(slug: str, typed: str) -> tuple[list[Finding], bool]:
    """Every check for ``typed`` at VHS ``slug``, and whether the person could get access."""
    vhs = db.session().scalar(select(Vhs).where(Vhs.slug == slug))
    if vhs is None:
        return [Finding(False, f"VHS {slug!r} is unknown (see `vhskoop-idp vhs list`)")], False
    found = [Finding(vhs.onboarded, f"VHS {vhs.slug} ({vhs.name}) " + (
        "is onboarded: it is in the login drop-down" if vhs.onboarded else
        "is not onboarded: it is not in the login drop-down (vhs add ... --onboarded)"))]
    typed_clean = clean(typed)
    if typed_clean.removed:
        found.append(Finding(None, f"the typed address was cleaned to {typed_clean.value!r}: "
                                   + _removed(typed_clean, "typed")))
    if not is_plausible(typed_clean.value):
        found.append(Finding(False, f"{typed_clean.value!r} is not an e-mail address"))
        return found, False
    if vhs.adapter:
        decision = _program_checks(vhs, typed, typed_clean, found)
        access = vhs.onboarded and decision is not None and decision.eligible
    else:
        found.append(Finding(None, "no Verwaltungsprogramm adapter is set for this VHS: only "
                                   "accounts created by an administrator can log in"))
    account = accounts.find(vhs, typed_clean.value)
    if not vhs.adapter:
        access = vhs.onboarded and account is not None and account.active
    found.append(_portal_check(vhs, typed_clean.value))
    found.append(Finding(None, f"local account: {account.status}" if account else
                         "local account: none"))
    found.append(Finding(bool(vhs.mail_config),
                         "mail settings are set (vhs set-mail)" if vhs.mail_config else
                         "mail settings are missing: mails wait in the outbox (vhs set-mail)"))
    found.extend(_last_mails(vhs, typed_clean.value))
    return found, access


def _portal_check(vhs: Vhs, address: str) -> Finding:
    portal = portals.portal_for(vhs)
    if portal is None:
        return Finding(None, "itm:PORTAL: none configured for this VHS")
    try:
        known = portal.lookup(address)
    except PortalUnavailable as error:
        return Finding(False, f"itm:PORTAL cannot be reached: {error}")
    if known:
        return Finding(None, "itm:PORTAL has a staff login for the address: that login and "
                             "its password count here (no second account)")
    return Finding(None, "itm:PORTAL has no login for the address")


def _last_mails(vhs: Vhs, address: str) -> list[Finding]:
    rows = db.session().scalars(
        select(OutboxMail).where(OutboxMail.vhs_id == vhs.id, OutboxMail.recipient == address)
        .order_by(OutboxMail.id.desc()).limit(5))
    lines = []
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(row.created_at))
        if row.delivered_at:
            state = "delivered"
        elif row.failed_at:
            state = f"given up: {row.last_error}"
        else:
            error = f": {row.last_error}" if row.last_error else ""
            state = f"waiting ({row.attempts} attempts{error})"
        lines.append(Finding(None, f"mail {row.kind} of {when}: {state}"))
    return lines or [Finding(None, "mails to this address: none")]


def _program_checks(vhs: Vhs, typed: str, typed_clean: CleanAddress,
                    found: list[Finding]) -> Decision | None:
    try:
        decision = eligibility.ask(vhs, typed)
    except AdapterUnavailable as error:
        found.append(Finding(False, f"adapter {vhs.adapter}: the Verwaltungsprogramm cannot be "
                                    f"reached: {error}"))
        return None
    found.append(Finding(True, f"adapter {vhs.adapter}: the Verwaltungsprogramm answers"))
    person = decision.person
    if person is None:
        found.append(Finding(False, "the address is not in the Verwaltungsprogramm's "
                                    "Benutzerverwaltung (it must be stored there identically)"))
        return decision
    who = f"user {person.user_id}" + (f" ({person.display_name})" if person.display_name else "")
    stored = clean(person.stored_address or "")
    if not typed_clean.removed and not stored.removed:
        found.append(Finding(True, f"the address is stored as typed: {who}"))
    else:
        detail = "; ".join(filter(None, [_removed(typed_clean, "typed"),
                                         _removed(stored, "stored")]))
        advice = " - correct the stored address in the Benutzerverwaltung" if stored.removed \
            else ""
        found.append(Finding(True, f"the address matches only after cleaning: {who}; "
                                   f"{detail}{advice}"))
    if decision.status == INACTIVE:
        found.append(Finding(False, "the user is not active in the Verwaltungsprogramm"))
        return decision
    found.append(Finding(True, "the user is active"))
    if decision.status == NOT_RELEASED:
        found.append(Finding(False, '"Im Internet anzeigen" is not set (the help page\'s '
                                    f'"{NOT_RELEASED_MESSAGE}")'))
        return decision
    found.append(Finding(True, '"Im Internet anzeigen" is set'))
    if vhs.adapter == "kma":
        linked = decision.status != NOT_LINKED
        found.append(Finding(linked, "the Kursmanagement-APP link is present" if linked else
                             "the Kursmanagement-APP link is missing: ITEM must link the user "
                             "(Technik-Support-Ticket; then `vhskoop-idp kma link`)"))
    return decision
