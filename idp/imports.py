"""The accounts of the login this provider replaces, with their passwords as hashes:
``vhskoop-idp accounts import`` reads them, ``accounts export`` writes them back.

A file is CSV (UTF-8, a header row) or JSON lines, with the fields ``FIELDS`` and
optionally ``OPTIONAL``. It is read as a stream, in batches: each line is checked on its
own (the VHS, the address as the pages check it, invisible and look-alike characters named
as the diagnosis names them, a duplicate address in one VHS, the hash's format, an
address the VHS's itm:PORTAL owns), then decided against the database:
- new: an account is made, active or disabled, its imported hash kept for the first
  sign-in (``idp.legacy``), or none (the person sets one through the activation mail or
  is checked once against the old login);
- updated: an imported account that has not signed in here since its import takes the
  line's name, state and hash; an account made here takes the line's ``legacy_id``;
- unchanged: nothing differs, or the account signed in here since (it keeps what it has);
- refused: with the line and the reason.
A dry run decides the same and writes nothing. A second run of the same file changes
nothing.

CSV cells that a spreadsheet would run as a formula (beginning with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) are written with a leading apostrophe, as OWASP's
advice on CSV injection says, and read back without it (``cell``, ``uncell``).
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TextIO

from flask_babel import force_locale
from sqlalchemy import insert, select, update

from adapters.address import clean

from . import addresses, db, diagnose, legacy, portals
from .connectors import PortalUnavailable
from .models import Account, Source, Status, Vhs, new_secret, now

FIELDS = ("vhs", "email", "name", "legacy_id", "password_hash", "state")
OPTIONAL = ("created_at", "last_login_at")
STATES = {"active": Status.ACTIVE, "disabled": Status.DISABLED}
OUTCOMES = ("new", "updated", "unchanged", "refused")
BATCH = 500
MAX_LINE = 4096  # characters of one CSV field or JSON line


class ImportFormatError(ValueError):
    """The file as a whole cannot be read (no header, a required field missing)."""


FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet cell a formula


def _formula_like(value: str) -> bool:
    return value[:1] in FORMULA or (value[:1] == "'" and _formula_like(value[1:]))


def cell(value) -> str:
    """A value as a CSV cell that a spreadsheet shows as text (an apostrophe before what
    would start a formula, or before such an apostrophe: ``uncell`` undoes it exactly)."""
    text = "" if value is None else str(value)
    return "'" + text if _formula_like(text) else text


def uncell(value: str) -> str:
    """The value a ``cell`` was made from."""
    return value[1:] if value[:1] == "'" and _formula_like(value[1:]) else value


@dataclass(frozen=True)
class Line:
    """One line of the file, as text fields (line 1 is a CSV file's header); ``problem``
    when it cannot be read as fields of the header."""

    number: int
    values: dict
    problem: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A line that passed every check of its own."""

    number: int
    vhs: Vhs
    address: str
    name: str | None
    legacy_id: str
    password_hash: str | None
    status: str
    created_at: int | None
    last_login_at: int | None


@dataclass
class Report:
    """What an import did (or, in a dry run, would do), per VHS and line."""

    counts: dict = field(default_factory=lambda: defaultdict(Counter))
    refusals: list = field(default_factory=list)  # (line, vhs, email, reason)
    changes: list = field(default_factory=list)  # (line, vhs, address, what changed)
    touched: dict = field(default_factory=dict)  # VHS slug -> Vhs, for the notices

    def count(self, slug: str, outcome: str) -> None:
        """One more line of ``outcome`` at VHS ``slug``."""
        self.counts[slug][outcome] += 1

    def refuse(self, line: Line, reason: str) -> None:
        """Refuse ``line`` for ``reason``."""
        slug = str(line.values.get("vhs") or "")[:63]
        self.count(slug, "refused")
        self.refusals.append((line.number, slug, str(line.values.get("email") or "")[:320],
                              reason))

    def summary(self, slug: str) -> str:
        """"new 3, updated 1, unchanged 0, refused 2"."""
        return ", ".join(f"{outcome} {self.counts[slug][outcome]}" for outcome in OUTCOMES)


def lines(stream: TextIO, kind: str) -> Iterator[Line]:
    """The lines of a CSV (``csv``) or JSON lines (``jsonl``) file, one at a time."""
    if kind == "csv":
        reader = csv.DictReader(stream, strict=True)
        missing = [name for name in FIELDS if name not in (reader.fieldnames or [])]
        if missing:
            raise ImportFormatError(f"the header row lacks {', '.join(missing)} (fields: "
                                    f"{', '.join(FIELDS + OPTIONAL)})")
        header = len(reader.fieldnames)
        try:
            for row in reader:
                found = sum(1 for k, v in row.items() if k is not None and v is not None)
                found += len(row.get(None) or ())
                values = {k: uncell(v) for k, v in row.items() if k and v is not None}
                problem = None if found == header else (
                    f"{found} fields, the header has {header}: quote a value that holds a "
                    "comma" if found > header else f"{found} fields, the header has {header}")
                yield Line(reader.line_num, values, problem)
        except csv.Error as error:
            raise ImportFormatError(f"line {reader.line_num}: {error}") from None
        return
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            values = json.loads(text) if len(text) <= MAX_LINE else None
        except ValueError:
            values = None
        yield Line(number, values if isinstance(values, dict) else {"": text[:40]})


def _moment(value) -> int | None:
    """Unix seconds, or an ISO 8601 time (UTC unless it says otherwise)."""
    text = str(value).strip()
    if not text:
        return None
    if text.isdigit() and len(text) <= 12:
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


class Checker:
    """The checks of one line on its own, with what earlier lines taught (VHS, duplicates)."""

    def __init__(self):
        self.vhs: dict[str, Vhs | str] = {}
        self.seen: dict[tuple[int, str], int] = {}
        self.ids: dict[str, int] = {}

    def _vhs(self, slug: str) -> Vhs | str:
        if slug not in self.vhs:
            found = db.session().scalar(select(Vhs).where(Vhs.slug == slug[:63]))
            self.vhs[slug] = ("unknown VHS" if found is None else
                              "VHS not onboarded" if not found.onboarded else found)
        return self.vhs[slug]

    def check(self, line: Line) -> Candidate | str:
        """The line as a candidate, or the reason it is refused."""
        if line.problem:
            return line.problem
        values = {k: v if isinstance(v, str) else ("" if v is None else str(v))
                  for k, v in line.values.items()}
        if "" in values or any(len(v) > MAX_LINE for v in values.values()):
            return "not a line of the format (a JSON object per line, or CSV fields)"
        missing = [name for name in FIELDS if name not in values]
        if missing:
            return f"fields missing: {', '.join(missing)}"
        vhs = self._vhs(values["vhs"].strip())
        if isinstance(vhs, str):
            return vhs
        typed = values["email"]
        cleaned = clean(typed)  # once: the address check and the diagnosis share it
        odd = diagnose.odd_characters(typed, diagnose.IMPORTED, cleaned)
        if odd:
            return "invisible or look-alike characters: " + "; ".join(str(p) for p in odd)
        address = cleaned.value
        problem = addresses.problem(typed, address)
        if problem is not None:
            return f"not a well-formed address ({problem})"
        earlier = self.seen.setdefault((vhs.id, address), line.number)
        if earlier != line.number:
            return f"the same address as line {earlier} at this VHS"
        legacy_id = values["legacy_id"].strip()
        if not legacy_id or len(legacy_id) > 200:
            return "legacy_id missing or longer than 200 characters"
        earlier = self.ids.setdefault(legacy_id, line.number)
        if earlier != line.number:
            return f"the same legacy_id as line {earlier}"
        status = STATES.get(values["state"].strip().lower())
        if status is None:
            return "state must be active or disabled"
        stored = values["password_hash"].strip() or None
        reason = legacy.refusal(stored) if stored else None
        if reason:
            return reason
        try:
            created_at = _moment(values.get("created_at", ""))
            last_login_at = _moment(values.get("last_login_at", ""))
        except (ValueError, OverflowError):
            return "created_at or last_login_at is neither unix seconds nor ISO 8601"
        name = " ".join(values["name"].split())[:200] or None
        return Candidate(line.number, vhs, address, name, legacy_id, stored, status,
                         created_at, last_login_at)


def _portal_owns(vhs: Vhs, address: str) -> str | None:
    """Why the VHS's itm:PORTAL keeps this person (or cannot say), else None."""
    portal = portals.portal_for(vhs)
    if portal is None:
        return None
    try:
        if portal.lookup(address):
            return "the VHS's itm:PORTAL has a login for this address (the person keeps it)"
    except PortalUnavailable:
        return "the VHS's itm:PORTAL did not answer; run the import again later"
    return None


KEPT = (Account.id, Account.address, Account.display_name, Account.status,
        Account.legacy_id, Account.legacy_hash, Account.password_hash, Account.imported_at,
        Account.last_login_at, Account.source)


def _differences(row, candidate: Candidate) -> dict:
    """What an existing account would take from the line."""
    if row.imported_at is None:  # made here (or at itm:PORTAL): only the id is taken
        return {} if row.legacy_id == candidate.legacy_id else {
            "legacy_id": candidate.legacy_id}
    if row.last_login_at and row.last_login_at > row.imported_at or row.password_hash:
        return {}  # signed in here since: what it has here counts
    wanted = {"display_name": candidate.name, "status": candidate.status,
              "legacy_hash": candidate.password_hash, "legacy_id": candidate.legacy_id}
    return {key: value for key, value in wanted.items() if getattr(row, key) != value}


def _decide(batch: list[Candidate], report: Report, dry_run: bool, moment: int) -> None:
    """Decide (and unless ``dry_run`` write) one batch against the database."""
    by_vhs: dict[int, list[Candidate]] = defaultdict(list)
    for candidate in batch:
        by_vhs[candidate.vhs.id].append(candidate)
    new = []
    for vhs_id, group in by_vhs.items():
        rows = {row.address: row for row in db.session().execute(
            select(*KEPT).where(Account.vhs_id == vhs_id,
                                Account.address.in_([c.address for c in group])))}
        for candidate in group:
            slug = candidate.vhs.slug
            row = rows.get(candidate.address)
            owned = _portal_owns(candidate.vhs, candidate.address) if (
                row is None or row.source != Source.PORTAL) else None
            if owned:
                report.refuse(Line(candidate.number, {"vhs": slug,
                                                      "email": candidate.address}), owned)
                continue
            report.touched[slug] = candidate.vhs
            if row is None:
                report.count(slug, "new")
                new.append({
                    "vhs_id": vhs_id, "address": candidate.address,
                    "display_name": candidate.name, "legacy_id": candidate.legacy_id,
                    "legacy_hash": candidate.password_hash, "status": candidate.status,
                    "source": Source.LOCAL, "email_verified": True, "imported_at": moment,
                    "sub": new_secret(),
                    "created_at": candidate.created_at or moment,
                    # never after now: a sign-in here is one later than the import
                    "last_login_at": candidate.last_login_at and min(
                        candidate.last_login_at, moment - 1)})
                continue
            changes = _differences(row, candidate)
            if not changes:
                report.count(slug, "unchanged")
                continue
            report.count(slug, "updated")
            report.changes.append((candidate.number, slug, candidate.address,
                                   ", ".join(sorted(_word(k) for k in changes))))
            if not dry_run:
                stamp = {"imported_at": moment} if row.imported_at is not None else {}
                db.session().execute(update(Account).where(Account.id == row.id)
                                     .values(**changes, **stamp))
    if new and not dry_run:  # one executemany of the table (the ORM would split it)
        db.session().execute(insert(Account.__table__), new)


def _word(column: str) -> str:
    return {"display_name": "name", "legacy_hash": "password hash",
            "status": "state"}.get(column, column)


def run(source: Iterable[Line], dry_run: bool) -> Report:
    """Check and decide every line of ``source``; write unless ``dry_run``."""
    report, checker, batch, moment = Report(), Checker(), [], now()
    with force_locale("en"):
        for line in source:
            result = checker.check(line)
            if isinstance(result, str):
                report.refuse(line, result)
                continue
            batch.append(result)
            if len(batch) >= BATCH:
                _decide(batch, report, dry_run, moment)
                batch = []
        if batch:
            _decide(batch, report, dry_run, moment)
    return report


def export(vhs: Vhs | None, changed_only: bool) -> Iterator[dict]:
    """The accounts in the import's format, oldest first; with ``changed_only`` those
    that changed here: made here, or signed in here since their import (the way back)."""
    query = (select(Account).where(Account.status != Status.PENDING).order_by(Account.id)
             .execution_options(yield_per=BATCH))
    if vhs is not None:
        query = query.where(Account.vhs_id == vhs.id)
    if changed_only:
        query = query.where((Account.imported_at.is_(None)) | (
            Account.last_login_at > Account.imported_at) | Account.password_hash.is_not(None))
    for account in db.session().scalars(query):
        yield {"vhs": account.vhs.slug, "email": account.address,
               "name": account.display_name or "", "legacy_id": account.legacy_id or "",
               "password_hash": account.password_hash or account.legacy_hash or "",
               "state": "disabled" if account.status == Status.DISABLED else "active",
               "created_at": account.created_at or "",
               "last_login_at": account.last_login_at or ""}
