"""What a new password must be (NIST SP 800-63B 3.1.1.2, BSI ORP.4): long enough, not
common, not built from the address or the VHS name. No composition rules, no expiry.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext

from .models import Account
from .passwords import MAX_LENGTH

MISMATCH = lazy_gettext("Die beiden Passwörter stimmen nicht überein.")
SEQUENCES = ("0123456789012345678901234567890", "abcdefghijklmnopqrstuvwxyz",
             "qwertzuiopüasdfghjklöäyxcvbnm", "qwertyuiopasdfghjklzxcvbnm")


@lru_cache(maxsize=1)
def common() -> frozenset[str]:
    """The list of common passwords and password words shipped with the package."""
    path = Path(__file__).parent / "data" / "common-passwords.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def _too_common(password: str) -> bool:
    lowered = password.lower()
    core = re.sub(r"[\d\W_]+$", "", lowered) or lowered
    words = common()
    if lowered in words or core in words or len(set(lowered)) <= 2:
        return True
    if any(lowered in sequence or sequence.startswith(lowered) for sequence in SEQUENCES):
        return True
    # A common word said twice or more ("hallohallo2024")
    return any(core == word * (len(core) // len(word)) for word in words
               if len(word) >= 3 and len(core) % len(word) == 0)


def _too_contextual(password: str, minimum: int, address: str, vhs_slug: str,
                    vhs_name: str) -> bool:
    """Whether the address or the VHS name make up so much of the password that the rest
    is shorter than the minimum (they are the first words a guesser tries; NIST SP
    800-63B: context-specific words). "ich-liebe-straubing" is refused, a long password
    that merely contains the place ("Bench-Kennwort-2026-xyz" at vhs Bench) is not."""
    lowered = password.lower()
    local = address.split("@")[0].lower()
    words = [w.lower() for w in re.split(r"\W+", vhs_name)
             if w.lower() not in ("vhs", "volkshochschule", "kreisvolkshochschule")]
    parts = sorted({address.lower(), local, vhs_slug.lower(), *words}, key=len, reverse=True)
    rest = lowered
    for part in parts:
        if len(part) >= 4:
            rest = rest.replace(part, "")
    return rest != lowered and len(rest) < minimum


def problems(password: str, address: str, vhs_slug: str, vhs_name: str) -> list[str]:
    """Why ``password`` cannot be used, in words for the person; empty when it can."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    found = []
    if len(password) < minimum:
        found.append(lazy_gettext("Das Passwort braucht mindestens %(minimum)s Zeichen – "
                                  "lange Sätze oder mehrere Wörter sind gut zu merken.",
                                  minimum=minimum))
    if len(password) > MAX_LENGTH:
        found.append(lazy_gettext("Das Passwort darf höchstens %(maximum)s Zeichen haben.",
                                  maximum=MAX_LENGTH))
    if password and _too_common(password):
        found.append(lazy_gettext("Dieses Passwort ist sehr verbreitet und daher leicht zu "
                                  "erraten. Bitte wählen Sie ein anderes."))
    if _too_contextual(password, minimum, address, vhs_slug, vhs_name):
        found.append(lazy_gettext("Das Passwort besteht zu sehr aus Ihrer E-Mail-Adresse oder "
                                  "dem Namen Ihrer VHS: ohne sie muss es noch mindestens "
                                  "%(minimum)s Zeichen haben.", minimum=minimum))
    return found


def refusals(account: Account, password: str, confirm: str) -> list[tuple[str, str]]:
    """Why ``password`` (typed twice) cannot be ``account``'s new password, as (field,
    message) pairs for the fields ``password`` and ``confirm``; empty if it can."""
    found = [("password", message) for message in problems(
        password, account.address, account.vhs.slug, account.vhs.name)]
    if not found and password != confirm:
        found = [("confirm", MISMATCH)]
    return found
