"""The keyring on disk: file modes, encryption at rest, reload, errors."""

from __future__ import annotations

import json
import stat
import time

import pytest

from keys import KeyStore, KeyStoreError, Policy, rotate

pytestmark = pytest.mark.once

POLICY = Policy(retain_seconds=900, algorithms=("ES256",))


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_writes_private_keys_readable_by_the_owner_only(tmp_path):
    store = KeyStore(tmp_path / "keys")
    keyring = store.ensure(int(time.time()), POLICY)
    assert mode(tmp_path / "keys") == 0o700
    for key in keyring.keys:
        pem = tmp_path / "keys" / f"{key.kid}.pem"
        assert mode(pem) == 0o600
        assert b"BEGIN PRIVATE KEY" in pem.read_bytes()


def test_with_a_passphrase_keys_are_encrypted_and_need_it(tmp_path):
    store = KeyStore(tmp_path, "geheime Passphrase")
    keyring = store.ensure(int(time.time()), POLICY)
    pem = (tmp_path / f"{keyring.current('ES256').kid}.pem").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem
    assert KeyStore(tmp_path, "geheime Passphrase").load().current("ES256").kid == \
        keyring.current("ES256").kid
    with pytest.raises(KeyStoreError, match="IDP_KEYS_PASSPHRASE is wrong"):
        KeyStore(tmp_path, "falsch").load()
    with pytest.raises(KeyStoreError, match="IDP_KEYS_PASSPHRASE"):
        KeyStore(tmp_path).load()


def cut_short(pem: bytes) -> bytes:
    return pem[:len(pem) // 2]


def line_lost(pem: bytes) -> bytes:
    lines = pem.splitlines(keepends=True)
    return b"".join(lines[:2] + lines[3:])


def overwritten(pem: bytes) -> bytes:
    lines = pem.splitlines(keepends=True)
    return b"".join(lines[:2] + [b"A" * (len(lines[2]) - 1) + b"\n"] + lines[3:])


@pytest.mark.parametrize("passphrase, damage, words", [
    ("", cut_short, "no complete PEM block"),
    ("geheime Passphrase", cut_short, "no complete PEM block"),
    ("", line_lost, "bytes"),
    ("geheime Passphrase", line_lost, "bytes"),
    ("", overwritten, "damaged"),  # encrypted, that cannot be told from a wrong passphrase
])
def test_a_damaged_key_file_is_named_with_what_is_wrong(tmp_path, passphrase, damage, words):
    keyring = KeyStore(tmp_path, passphrase).ensure(int(time.time()), POLICY)
    path = tmp_path / f"{keyring.current('ES256').kid}.pem"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(KeyStoreError) as refused:
        KeyStore(tmp_path, passphrase).load()
    assert str(path) in str(refused.value) and words in str(refused.value)
    assert "IDP_KEYS_PASSPHRASE is wrong" not in str(refused.value)


def test_rotation_is_saved_and_the_stamp_changes(tmp_path):
    store = KeyStore(tmp_path)
    first = store.ensure(1000, POLICY)
    stamp = store.stamp()
    store.update(lambda keyring: rotate(keyring, 2000, POLICY))
    assert store.stamp() != stamp
    reloaded = KeyStore(tmp_path).load()
    assert reloaded.current("ES256").kid == first.find("ES256", "next").kid
    assert reloaded.find("ES256", "retired").kid == first.current("ES256").kid


def test_removed_keys_lose_their_files(tmp_path):
    store = KeyStore(tmp_path)
    first = store.ensure(1000, POLICY)
    store.update(lambda keyring: rotate(keyring, 2000, POLICY))
    store.update(lambda keyring: rotate(keyring, 4000, POLICY))  # first retiree expired
    assert not (tmp_path / f"{first.current('ES256').kid}.pem").exists()
    manifest = json.loads((tmp_path / "keyring.json").read_text())
    assert first.current("ES256").kid not in {k["kid"] for k in manifest["keys"]}


def test_a_missing_key_file_is_a_clear_error(tmp_path):
    store = KeyStore(tmp_path)
    keyring = store.ensure(1000, POLICY)
    (tmp_path / f"{keyring.current('ES256').kid}.pem").unlink()
    with pytest.raises(KeyStoreError, match="missing"):
        KeyStore(tmp_path).load()


def test_a_key_file_of_another_kind_is_named(tmp_path):
    store = KeyStore(tmp_path)
    keyring = store.ensure(1000, POLICY)
    manifest = json.loads((tmp_path / "keyring.json").read_text())
    manifest["keys"][0]["alg"] = "RS256"  # the file holds a P-256 key
    (tmp_path / "keyring.json").write_text(json.dumps(manifest))
    with pytest.raises(KeyStoreError, match=f"{keyring.keys[0].kid}.pem holds no RS256 key"):
        KeyStore(tmp_path).load()


def test_a_reload_after_a_rotation_reads_only_the_new_key_and_signs_alike(tmp_path):
    """An RSA key's check costs about 0.2 s; a key file already read in this process is not
    read again, by any store, and the key it gives signs as a freshly read one would."""
    from joserfc import jwt
    from joserfc.jwk import KeySet

    from keys.store import _read

    policy = Policy(retain_seconds=900, algorithms=("RS256",))
    store = KeyStore(tmp_path)
    store.ensure(1000, policy)
    store.update(lambda keyring: rotate(keyring, 2000, policy))
    before = _read.cache_info()
    reloaded = KeyStore(tmp_path).load()
    after = _read.cache_info()
    assert len(reloaded.keys) == 3
    assert after.misses - before.misses == 1  # the new next key only
    assert after.hits - before.hits == 2
    current = reloaded.current("RS256")
    token = jwt.encode({"alg": "RS256", "kid": current.kid}, {"sub": "x"}, reloaded.key_set)
    published = KeySet.import_key_set(reloaded.jwks())
    assert jwt.decode(token, published).claims == {"sub": "x"}
