"""One way to clean an e-mail address for matching, and a report of what was removed.

Addresses are typed by people and pasted into Verwaltungsprogramme; invisible characters
(a no-break space, a zero-width space, a soft hyphen) then make two equal-looking
addresses differ. Matching works on the cleaned form; ``diagnose`` names what was removed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Removed wherever they stand; U+00A0 is turned into a plain space first (see clean()).
INVISIBLE = {
    "\u200b": "ZERO WIDTH SPACE",
    "\u200c": "ZERO WIDTH NON-JOINER",
    "\u200d": "ZERO WIDTH JOINER",
    "\u2060": "WORD JOINER",
    "\ufeff": "ZERO WIDTH NO-BREAK SPACE",
    "\u00ad": "SOFT HYPHEN",
}
_CONTROL_NAMES = {"\t": "CHARACTER TABULATION", "\n": "LINE FEED", "\r": "CARRIAGE RETURN"}
MAX_LENGTH = 320  # RFC 3696 errata: 64 + 1 + 255


@dataclass(frozen=True)
class Removal:
    """One character taken out of an address: which, and at which 1-based position."""

    char: str
    position: int

    @property
    def codepoint(self) -> str:
        """The code point in the usual notation, e.g. U+00A0."""
        return f"U+{ord(self.char):04X}"

    @property
    def name(self) -> str:
        """The character's Unicode name, e.g. NO-BREAK SPACE."""
        return (INVISIBLE.get(self.char) or _CONTROL_NAMES.get(self.char)
                or unicodedata.name(self.char, "CONTROL CHARACTER"))

    def describe(self) -> str:
        """Say it the way diagnose prints it."""
        return f"{self.codepoint} ({self.name}) at position {self.position}"


@dataclass(frozen=True)
class CleanAddress:
    """The address as matched, and what cleaning removed from the original."""

    value: str
    removed: tuple[Removal, ...]


def clean(address: str) -> CleanAddress:
    """Clean an address for matching: strip, drop invisible characters, NFC, lower-case."""
    removed: list[Removal] = []
    kept: list[tuple[int, str]] = []
    for position, char in enumerate(address, start=1):
        if char in INVISIBLE or unicodedata.category(char) == "Cc":
            removed.append(Removal(char, position))  # tabs, CR, LF and other controls too
        elif char == "\u00a0":
            removed.append(Removal(char, position))
            kept.append((position, " "))
        else:
            kept.append((position, char))
    while kept and kept[0][1] == " ":
        removed.append(Removal(address[kept[0][0] - 1], kept[0][0]))
        kept.pop(0)
    while kept and kept[-1][1] == " ":
        removed.append(Removal(address[kept[-1][0] - 1], kept[-1][0]))
        kept.pop()
    # A space inside the address is kept: it makes the address implausible (is_plausible)
    # instead of silently joining two words into one address.
    value = unicodedata.normalize("NFC", "".join(char for _, char in kept)).lower()
    unique = {removal.position: removal for removal in removed}
    return CleanAddress(value, tuple(unique[p] for p in sorted(unique)))


def is_plausible(value: str) -> bool:
    """A cleaned address that can be an e-mail address: one @, no spaces, sane length."""
    if not value or len(value) > MAX_LENGTH or any(c.isspace() for c in value):
        return False
    local, at, domain = value.rpartition("@")
    return bool(at and local and domain and "." in domain and "@" not in local
                and not domain.startswith(".") and not domain.endswith("."))
