"""Key rotation as a pure function of (keyring, now, policy), and RFC 7638 key ids."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import KeySet

from keys import Keyring, Policy, SigningKey, generate, prune, rotate

pytestmark = pytest.mark.once

POLICY = Policy(retain_seconds=900, algorithms=("ES256",))


def states(keyring: Keyring) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for key in keyring.keys:
        result.setdefault(key.state, []).append(key.kid)
    return result


def test_prune_fills_an_empty_keyring_with_current_and_next():
    keyring = prune(Keyring(), 1000, POLICY)
    assert sorted(states(keyring)) == ["current", "next"]
    assert keyring.current("ES256").state == "current"


def test_rotate_promotes_next_retires_current_and_adds_a_new_next():
    before = prune(Keyring(), 1000, POLICY)
    old_current, old_next = before.current("ES256"), before.find("ES256", "next")
    after = rotate(before, 2000, POLICY)
    assert after.current("ES256").kid == old_next.kid
    retired = after.find("ES256", "retired")
    assert retired.kid == old_current.kid and retired.retire_until == 2900
    new_next = after.find("ES256", "next")
    assert new_next.kid not in (old_current.kid, old_next.kid)
    assert {k["kid"] for k in after.jwks()["keys"]} == {retired.kid, old_next.kid, new_next.kid}


def test_a_retired_key_is_published_until_its_tokens_expired_then_removed():
    keyring = rotate(prune(Keyring(), 1000, POLICY), 2000, POLICY)
    retired = keyring.find("ES256", "retired")
    assert retired in prune(keyring, 2899, POLICY).keys
    assert all(k.kid != retired.kid for k in prune(keyring, 2900, POLICY).keys)


def test_jwks_leaves_out_expired_retired_keys_before_they_are_pruned():
    keyring = rotate(prune(Keyring(), 1000, POLICY), 2000, POLICY)
    retired = keyring.find("ES256", "retired")
    assert retired.kid in {k["kid"] for k in keyring.jwks(2899)["keys"]}
    assert retired.kid not in {k["kid"] for k in keyring.jwks(2900)["keys"]}


def test_rotate_is_a_function_of_keyring_now_and_policy_alone():
    pool = [generate("ES256", 0) for _ in range(3)]

    def from_pool():
        """A key generator that hands out the same keys in the same order every time."""
        keys = iter(pool)
        return lambda alg, now: next(keys)

    keyring = prune(Keyring(), 1000, POLICY, from_pool())
    first = rotate(keyring, 2000, POLICY, from_pool())
    second = rotate(keyring, 2000, POLICY, from_pool())
    assert first == second  # same inputs, same keyring: no clock, no disk, no hidden state
    retired = first.find("ES256", "retired")
    assert retired.retire_until == 2000 + POLICY.retain_seconds  # from `now`, not the clock
    assert rotate(keyring, 3000, POLICY, from_pool()).find(
        "ES256", "retired").retire_until == 3000 + POLICY.retain_seconds


def test_jwks_holds_public_keys_only_with_use_and_alg():
    keyring = prune(Keyring(), 1000, Policy(retain_seconds=900))
    for jwk in keyring.jwks()["keys"]:
        assert "d" not in jwk and jwk["use"] == "sig" and jwk["alg"] in ("RS256", "ES256")
    rsa_jwk = next(k for k in keyring.jwks()["keys"] if k["kty"] == "RSA")
    from joserfc.util import urlsafe_b64decode
    assert len(urlsafe_b64decode(rsa_jwk["n"].encode())) * 8 == 3072


RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
    "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
    "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
    "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)


def thumbprint(jwk: dict) -> str:
    """RFC 7638 section 3, written out independently of the code under test."""
    members = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_the_reference_thumbprint_matches_rfc7638_example():
    example = {"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    assert thumbprint(example) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_kid_is_the_rfc7638_thumbprint(alg):
    key = generate(alg, 1000)
    assert key.kid == thumbprint(key.public_jwk())


def test_kid_matches_joserfc_thumbprint_of_the_public_key():
    key = generate("ES256", 1000)
    from joserfc.jwk import ECKey
    public = ECKey.import_key(key.public_jwk())
    assert key.kid == public.thumbprint()


def test_unknown_algorithm_is_refused():
    with pytest.raises(ValueError):
        generate("HS256", 1000)


def test_signing_key_imports_its_own_pem():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    key = SigningKey(alg="RS256", state="current", created_at=0, private_pem=pem)
    assert key.public_jwk()["kid"] == key.kid


def test_a_header_signed_before_a_rotation_is_signed_by_its_key_after_it():
    """The ID token's header names the current key; the signature comes from the key set
    of whatever keyring is loaded a moment later: a rotation in between changes nothing."""
    before = prune(Keyring(), 1000, POLICY)
    header = {"alg": "ES256", "kid": before.current("ES256").kid}
    after = rotate(before, 2000, POLICY)
    token = jwt.encode(header, {"sub": "x"}, after.key_set, ["ES256"])
    published = KeySet.import_key_set(after.jwks(2000))
    decoded = jwt.decode(token, published, ["ES256"])
    assert decoded.header["kid"] == before.current("ES256").kid
    assert after.key_set is after.key_set  # built once per keyring
