"""Password hashes imported from the login this provider replaced, verified in their own
format by libpass (the maintained passlib) and replaced by Argon2id at the first sign-in.

Accepted: bcrypt (``$2a$``, ``$2b$``, ``$2y$`` as PHP's ``password_hash`` writes it),
Argon2i and Argon2id (PHC strings), PBKDF2-SHA256 (Django's ``pbkdf2_sha256$...``,
passlib's ``$pbkdf2-sha256$ROUNDS$...`` and the PHC form ``$pbkdf2-sha256$i=N,l=32$...``,
which no maintained library parses: checked here with hashlib), SHA-512-crypt and
SHA-256-crypt (``$6$``, ``$5$``).
Refused at the import, with the reason: unsalted digests (hex MD5, SHA-1, SHA-256,
SHA-512, LDAP ``{MD5}``/``{SHA}``), MD5-crypt (``$1$``) and anything unknown.

Timing: checking an imported hash takes what its format takes (bcrypt cost 10 about as
long as one Argon2id verification here, SHA-512-crypt's default rounds longer), so a
wrong password is padded to at least the Argon2id time this process measures (``pad``):
a refusal for an imported account is never faster than one for any other address.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import threading
import time
from collections import deque
from statistics import median

from passlib.context import CryptContext
from passlib.exc import PasslibSecurityWarning, UnknownHashError

FORMATS = {
    "bcrypt": "bcrypt",
    "argon2": "Argon2",
    "django_pbkdf2_sha256": "PBKDF2-SHA256 (Django)",
    "pbkdf2_sha256": "PBKDF2-SHA256",
    "sha512_crypt": "SHA-512-crypt",
    "sha256_crypt": "SHA-256-crypt",
}
CONTEXT = CryptContext(schemes=list(FORMATS))
BCRYPT_BYTES = 72  # bcrypt reads no further (PHP, the old login, did the same)
UNSALTED = (
    (re.compile(r"^[0-9a-fA-F]{32}$"), "MD5"),
    (re.compile(r"^[0-9a-fA-F]{40}$"), "SHA-1"),
    (re.compile(r"^[0-9a-fA-F]{64}$"), "SHA-256"),
    (re.compile(r"^[0-9a-fA-F]{128}$"), "SHA-512"),
    (re.compile(r"^\{(MD5|SHA)\}", re.IGNORECASE), "LDAP {MD5}/{SHA}"),
)


PHC_PBKDF2 = re.compile(r"^\$pbkdf2-sha256\$i=(\d{1,8})(?:,l=(\d{1,3}))?\$([A-Za-z0-9+/.]+)"
                        r"\$([A-Za-z0-9+/.]+)$")
PHC_PBKDF2_NAME = "PBKDF2-SHA256 (PHC)"


def _b64(text: str) -> bytes:
    """PHC's base64: standard alphabet, no padding (some writers use '.' for '+')."""
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _phc_pbkdf2(stored: str) -> tuple[int, bytes, bytes] | None:
    """Iterations, salt and digest of a PHC-form PBKDF2-SHA256 string, or None."""
    found = PHC_PBKDF2.match(stored)
    if not found:
        return None
    try:
        salt, digest = _b64(found.group(3)), _b64(found.group(4))
    except (binascii.Error, ValueError):
        return None
    rounds = int(found.group(1))
    if not (1000 <= rounds <= 10_000_000 and len(salt) >= 8 and 16 <= len(digest) <= 64):
        return None
    return rounds, salt, digest


def refusal(stored: str) -> str | None:
    """Why the import refuses the hash ``stored``, or None when it can be checked here."""
    for pattern, name in UNSALTED:
        if pattern.match(stored):
            return f"unsalted hash ({name}): not accepted"
    if stored.startswith("$1$"):
        return "MD5-crypt ($1$) is broken: not accepted"
    if len(stored) > 255:
        return "hash longer than 255 characters"
    if stored.startswith("$pbkdf2-sha256$i="):
        return None if _phc_pbkdf2(stored) else "unsupported hash format"
    try:
        CONTEXT.identify(stored, required=True)
        CONTEXT.needs_update(stored)  # parses the whole string: a damaged one raises
    except (UnknownHashError, ValueError, TypeError):
        return "unsupported hash format"
    return None


def format_of(stored: str) -> str:
    """The format's name as the import reports it ("bcrypt", "SHA-512-crypt", ...)."""
    if _phc_pbkdf2(stored):
        return PHC_PBKDF2_NAME
    return FORMATS.get(CONTEXT.identify(stored, required=False) or "", "unknown")


def matches(stored: str, password: str) -> bool:
    """Whether ``password`` matches the imported hash ``stored`` (False when damaged)."""
    phc = _phc_pbkdf2(stored)
    if phc is not None:
        rounds, salt, digest = phc
        return hmac.compare_digest(hashlib.pbkdf2_hmac(
            "sha256", password.encode(), salt, rounds, len(digest)), digest)
    if CONTEXT.identify(stored, required=False) == "bcrypt":
        password = password.encode()[:BCRYPT_BYTES].decode(errors="ignore")
    try:
        return CONTEXT.verify(password, stored)
    except (ValueError, TypeError, PasslibSecurityWarning):
        return False


class Floor:
    """The time a password check should not undercut: the median of the last Argon2id
    verifications this process timed (``Passwords.verify_imported`` times one first when
    there is none yet, so a process that never checks an imported hash never pays it)."""

    def __init__(self):
        self._times: deque[float] = deque(maxlen=32)
        self._lock = threading.Lock()

    def known(self) -> bool:
        """Whether any verification was timed yet."""
        with self._lock:
            return bool(self._times)

    def timed(self, seconds: float) -> None:
        """Add one measured Argon2id verification."""
        with self._lock:
            self._times.append(seconds)

    def seconds(self) -> float:
        """The median of the verifications kept."""
        with self._lock:
            return median(self._times)

    def pad(self, started: float) -> None:
        """Sleep until a check begun at ``started`` (perf_counter) took the floor's time."""
        left = self.seconds() - (time.perf_counter() - started)
        if left > 0:
            time.sleep(left)
