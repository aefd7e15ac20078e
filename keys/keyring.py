"""The keyring and its rotation, as pure functions of (keyring, now, policy).

Each algorithm has exactly one ``next`` and one ``current`` key, and any number of
``retired`` ones (two rotations within a retired key's keep-alive time leave two):
- ``next``: published in the JWKS, not yet signing, so relying parties cache it early;
- ``current``: signing;
- ``retired``: no longer signing, published until every token it signed has expired.
``rotate`` promotes next to current, retires the old current and makes a new next;
``prune`` drops retired keys whose tokens have all expired.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, KeySet, RSAKey

ALGORITHMS = ("RS256", "ES256")
RSA_BITS = 3072


@dataclass(frozen=True)
class Policy:
    """How long a retired key stays published: the longest lifetime of what it signed."""

    retain_seconds: int
    algorithms: tuple[str, ...] = ALGORITHMS


@dataclass(frozen=True)
class SigningKey:
    """One private key with its state; ``kid`` is its RFC 7638 thumbprint.

    ``jwk`` is the joserfc key object (private). It is made from the PEM when not given,
    once per key: reading an RSA key checks it (about 0.2 s for 3072 bits), so a key that
    ``replace`` gives a new state keeps the object it had.
    """

    alg: str
    state: str
    created_at: int
    private_pem: bytes
    retire_until: int | None = None
    jwk: RSAKey | ECKey = field(default=None, repr=False, compare=False)
    kid: str = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.jwk is None:
            object.__setattr__(self, "jwk", key_class(self.alg).import_key(self.private_pem))
        object.__setattr__(self, "kid", self.jwk.thumbprint())  # RFC 7638, base64url SHA-256

    def public_jwk(self) -> dict:
        """The public JWK as published in the JWKS."""
        data = self.jwk.as_dict(private=False)
        data.update({"kid": self.kid, "use": "sig", "alg": self.alg})
        return data


@dataclass(frozen=True)
class Keyring:
    """An immutable set of signing keys."""

    keys: tuple[SigningKey, ...] = ()

    def current(self, alg: str) -> SigningKey:
        """The key that signs for ``alg``; KeyError when there is none."""
        for key in self.keys:
            if key.alg == alg and key.state == "current":
                return key
        raise KeyError(f"no current {alg} key")

    def find(self, alg: str, state: str) -> SigningKey | None:
        """The key of ``alg`` in ``state``, if any."""
        return next((k for k in self.keys if k.alg == alg and k.state == state), None)

    @cached_property
    def key_set(self) -> KeySet:
        """Every key (private) as one joserfc key set, built once per keyring: a signer
        names its key by ``kid`` in the header and joserfc picks that key from the set."""
        return KeySet([key.jwk for key in self.keys])

    def jwks(self, now: int | None = None) -> dict:
        """The published keys as a JWK Set: next, current, and retired ones not yet expired."""
        return {"keys": [key.public_jwk() for key in self.keys
                         if now is None or not (key.retire_until and key.retire_until <= now)]}


def key_class(alg: str) -> type[RSAKey] | type[ECKey]:
    """The joserfc key type of a signing algorithm."""
    return RSAKey if alg == "RS256" else ECKey


def fits(alg: str, private) -> bool:
    """Whether a private key (cryptography's) is of the kind ``alg`` signs with."""
    return isinstance(private, rsa.RSAPrivateKey if alg == "RS256" else ec.EllipticCurvePrivateKey)


def generate(alg: str, now: int, state: str = "next") -> SigningKey:
    """Make a new private key for ``alg`` (RSA 3072 for RS256, P-256 for ES256)."""
    if alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SigningKey(alg=alg, state=state, created_at=now, private_pem=pem,
                      jwk=key_class(alg)(private, pem))


Generator = Callable[[str, int], SigningKey]


def prune(keyring: Keyring, now: int, policy: Policy, make: Generator = generate) -> Keyring:
    """Drop expired retired keys and add a missing current or next key per algorithm."""
    kept = [k for k in keyring.keys if not (k.state == "retired" and k.retire_until <= now)]
    for alg in policy.algorithms:
        for state in ("current", "next"):
            if not any(k.alg == alg and k.state == state for k in kept):
                kept.append(replace(make(alg, now), state=state))
    return Keyring(tuple(kept))


def rotate(keyring: Keyring, now: int, policy: Policy, make: Generator = generate) -> Keyring:
    """Promote next to current, retire current until its tokens expired, add a new next."""
    keyring = prune(keyring, now, policy, make)
    rotated = []
    for key in keyring.keys:
        if key.state == "current":
            key = replace(key, state="retired", retire_until=now + policy.retain_seconds)
        elif key.state == "next":
            key = replace(key, state="current")
        rotated.append(key)
    rotated.extend(replace(make(alg, now), state="next") for alg in policy.algorithms)
    return Keyring(tuple(rotated))
