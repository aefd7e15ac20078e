"""A user list the Verwaltungsprogramm pushes to the provider (CSV or JSON), or a file.

For VHS whose program has no built-in adapter, and for the demo. One entry per user:

    [{"email": "anna@vhs.de", "id": "17", "name": "Anna Muster",
      "active": true, "released": true}]

or CSV with the header ``email,id,name,active,released``. ``released`` is the program's
"Im Internet anzeigen"; ``active`` and ``released`` default to true when absent.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from typing import Any

from . import json_input
from .address import clean, is_plausible
from .base import (
    ELIGIBLE,
    INACTIVE,
    NOT_RELEASED,
    AdapterConfigError,
    AdapterUnavailable,
    Context,
    Decision,
    Option,
    Options,
    Person,
    best,
)

MAX_ENTRIES = 100_000
_YES = {"1", "true", "t", "j", "ja", "y", "yes", "x"}
_NO = {"0", "false", "f", "n", "nein", "no", ""}


class DirectoryFormatError(ValueError):
    """The list cannot be read; the message names the entry and the field."""


def _flag(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise DirectoryFormatError(f"{where}: {value!r} is neither yes nor no")


def parse(data: bytes | str, kind: str) -> list[dict]:
    """Read a pushed list (``kind`` json or csv) into checked, normalised entries."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    if kind == "json":
        try:
            raw = json_input.loads(text)
        except ValueError as error:
            raise DirectoryFormatError(f"not valid JSON: {error}") from None
        if isinstance(raw, dict):
            raw = raw.get("users")
        if not isinstance(raw, list):
            raise DirectoryFormatError('expected a list of users (or {"users": [...]})')
    elif kind == "csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "email" not in reader.fieldnames:
            raise DirectoryFormatError("the CSV header must name at least the column 'email'")
        raw = list(reader)
    else:
        raise DirectoryFormatError(f"unknown format {kind!r} (json or csv)")
    if len(raw) > MAX_ENTRIES:
        raise DirectoryFormatError(f"more than {MAX_ENTRIES} entries")
    entries = []
    for number, item in enumerate(raw, start=1):
        where = f"entry {number}"
        if not isinstance(item, dict):
            raise DirectoryFormatError(f"{where}: not an object")
        email = item.get("email")
        if not isinstance(email, str) or not is_plausible(clean(email).value):
            raise DirectoryFormatError(f"{where}: 'email' is not an e-mail address")
        entries.append({
            "email": email,
            "id": str(item.get("id") or email)[:200],
            "name": (str(item["name"])[:200] if item.get("name") else None),
            "active": _flag(item.get("active", True), f"{where}, 'active'"),
            "released": _flag(item.get("released", True), f"{where}, 'released'"),
        })
    return entries


def index(entries: list[dict]) -> dict[str, list[dict]]:
    """Entries by cleaned address."""
    result: dict[str, list[dict]] = {}
    for entry in entries:
        result.setdefault(clean(entry["email"]).value, []).append(entry)
    return result


def decide(entries: list[dict], address: str) -> Decision:
    """The decision for ``address`` among normalised entries."""
    wanted = clean(address or "").value
    decisions = []
    for entry in entries:
        if clean(entry["email"]).value != wanted:
            continue
        person = Person(user_id=entry["id"], display_name=entry["name"],
                        stored_address=entry["email"])
        status = ELIGIBLE if entry["released"] else NOT_RELEASED
        decisions.append(Decision(status if entry["active"] else INACTIVE, person))
    return best(decisions)


class DirectoryAdapter:
    """Entries pushed to the provider, or read from a file (re-read when it changes)."""

    NAME = "directory"
    OPTIONS = {
        "file": Option(str, "", "a CSV or JSON file; empty: the list pushed to the provider"),
    }

    def __init__(self, options: Mapping[str, Any], context: Context):
        self.options = Options.parse(self.NAME, context.vhs, self.OPTIONS, options)
        self.vhs = context.vhs
        self.file = self.options["file"]
        if not self.file and context.entries is None:
            raise AdapterConfigError(
                f"VHS {context.vhs!r}, adapter 'directory': no 'file' and no pushed list")
        self.pushed = context.entries
        self._cache: tuple[tuple, dict[str, list[dict]]] | None = None

    def _entries(self, wanted: str) -> list[dict]:
        if not self.file:
            return self.pushed(wanted)
        try:
            stat = os.stat(self.file)
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if self._cache is None or self._cache[0] != stamp:
                with open(self.file, "rb") as handle:
                    kind = "csv" if self.file.lower().endswith(".csv") else "json"
                    self._cache = (stamp, index(parse(handle.read(), kind)))
        except (OSError, DirectoryFormatError) as error:
            raise AdapterUnavailable(f"directory file of VHS {self.vhs!r}: {error}") from None
        return self._cache[1].get(wanted, [])

    def check(self, address: str) -> Decision:
        """Look the cleaned address up in the list."""
        return decide(self._entries(clean(address or "").value), address)

    def close(self) -> None:
        """Nothing to release."""
