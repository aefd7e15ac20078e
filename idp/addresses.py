"""Is a typed e-mail address well-formed? (Syntax only: email-validator, no DNS lookups.)

The format of an address reveals nothing about who exists, so a malformed one gets an
immediate, specific answer; the answers for well-formed addresses stay the same for known
and unknown ones. Matching still works on the cleaned form (``adapters.address.clean``):
invisible characters are removed before the syntax is judged.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from adapters.address import clean

MAX_LENGTH = 254  # RFC 5321 4.5.3.1.3: a forward path of 256 octets, less the brackets


class Problem:
    """What is wrong with a typed address (the pages say it in words)."""

    MISSING = "missing"
    TOO_LONG = "too_long"
    NO_AT = "no_at"  # none, or more than one
    NOTHING_BEFORE = "nothing_before"
    NOTHING_AFTER = "nothing_after"
    SPACE = "space"
    NO_DOMAIN = "no_domain"  # no period after the @, or not a domain name
    INVALID = "invalid"  # any other rule of RFC 5322/6531


def problem(typed: str, cleaned: str | None = None) -> str | None:
    """The Problem with ``typed``, or None when it is a well-formed address (``cleaned``:
    ``clean(typed).value`` when the caller has it already)."""
    address = clean(typed or "").value if cleaned is None else cleaned
    if not address:
        return Problem.MISSING
    if len(address) > MAX_LENGTH:
        return Problem.TOO_LONG
    if address.count("@") != 1:
        return Problem.NO_AT
    local, _, domain = address.partition("@")
    if not local:
        return Problem.NOTHING_BEFORE
    if not domain:
        return Problem.NOTHING_AFTER
    if any(character.isspace() for character in address):
        return Problem.SPACE
    if "." not in domain or domain.startswith(".") or domain.endswith("."):
        return Problem.NO_DOMAIN
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return Problem.INVALID
    return None
