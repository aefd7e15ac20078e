"""The keyring on disk: a manifest plus one PEM file per private key.

Layout of the keys folder (mode 0700):
- ``keyring.json``: which key (by kid) has which algorithm, state and retirement time;
- ``<kid>.pem``: the PKCS#8 private key, mode 0600, encrypted when a passphrase is set;
- ``.lock``: taken while a process changes the keyring.
The manifest is replaced atomically (write, fsync, rename), so a reader sees the old or the
new keyring, never half of one; other instances notice the new manifest by its stat.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import re
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Callable

from cryptography.hazmat.primitives import serialization

from .keyring import Keyring, Policy, SigningKey, fits, key_class, prune

MANIFEST = "keyring.json"


class KeyStoreError(Exception):
    """The keys folder cannot be used; the message says why and what to do."""


class KeyStore:
    """Reads and changes the keyring in one folder."""

    def __init__(self, path: str | os.PathLike, passphrase: str = ""):
        self.path = Path(path)
        self.passphrase = passphrase.encode() if passphrase else None

    @contextmanager
    def _locked(self):
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.path / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def stamp(self) -> tuple[int, int] | None:
        """What identifies the manifest on disk now (changes on every save)."""
        try:
            stat = (self.path / MANIFEST).stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns)

    def load(self) -> Keyring:
        """Read the keyring; an empty one when the folder has none yet."""
        try:
            manifest = json.loads((self.path / MANIFEST).read_text())
        except FileNotFoundError:
            return Keyring()
        except (OSError, ValueError) as error:
            raise KeyStoreError(f"cannot read {self.path / MANIFEST}: {error}") from error
        return Keyring(tuple(self._load_key(entry) for entry in manifest["keys"]))

    def update(self, change: Callable[[Keyring], Keyring]) -> Keyring:
        """Apply ``change`` to the stored keyring under the lock and save the result."""
        with self._locked():
            keyring = change(self.load())
            self._save(keyring)
            return keyring

    def ensure(self, now: int, policy: Policy) -> Keyring:
        """Load the keyring, creating or completing it on first start."""
        keyring = self.load()
        if _complete(keyring, policy, now):
            return keyring
        return self.update(lambda current: prune(current, now, policy))

    def _load_key(self, entry: dict) -> SigningKey:
        pem_path = self.path / f"{entry['kid']}.pem"
        pem = b""
        try:
            pem = pem_path.read_bytes()
            plain, jwk = _read(entry["alg"], pem, self.passphrase)
        except FileNotFoundError:
            raise KeyStoreError(f"private key file {pem_path} is missing") from None
        except TypeError as error:
            raise KeyStoreError(
                f"{pem_path}: {error} (set IDP_KEYS_PASSPHRASE to the passphrase the keys "
                "were written with)"
            ) from None
        except ValueError:
            damage = _damage(pem)
            if damage is not None:
                raise KeyStoreError(f"{pem_path} is damaged: {damage} (restore the keys "
                                    "folder from a backup)") from None
            raise KeyStoreError(
                f"{pem_path} cannot be decrypted: IDP_KEYS_PASSPHRASE is wrong"
            ) from None
        if not fits(entry["alg"], jwk.raw_value):
            raise KeyStoreError(f"{pem_path} holds no {entry['alg']} key")
        key = SigningKey(
            alg=entry["alg"],
            state=entry["state"],
            created_at=entry["created_at"],
            private_pem=plain,
            retire_until=entry.get("retire_until"),
            jwk=jwk,
        )
        if key.kid != entry["kid"]:
            raise KeyStoreError(f"{pem_path} does not hold the key {entry['kid']}")
        return key

    def _save(self, keyring: Keyring) -> None:
        os.chmod(self.path, 0o700)
        for key in keyring.keys:
            pem_path = self.path / f"{key.kid}.pem"
            if not pem_path.exists():
                _write_atomic(pem_path, self._encrypted(key))
        manifest = {
            "version": 1,
            "keys": [
                {
                    "kid": key.kid,
                    "alg": key.alg,
                    "state": key.state,
                    "created_at": key.created_at,
                    "retire_until": key.retire_until,
                }
                for key in keyring.keys
            ],
        }
        _write_atomic(self.path / MANIFEST, json.dumps(manifest, indent=2).encode())
        wanted = {f"{key.kid}.pem" for key in keyring.keys}
        for stale in self.path.glob("*.pem"):
            if stale.name not in wanted:
                stale.unlink()

    def _encrypted(self, key: SigningKey) -> bytes:
        if not self.passphrase:
            return key.private_pem
        private = serialization.load_pem_private_key(key.private_pem, password=None)
        return private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self.passphrase),
        )


@lru_cache(maxsize=64)
def _read(alg: str, pem: bytes, passphrase: bytes | None) -> tuple[bytes, object]:
    """A key file's unencrypted PEM and its joserfc key. Reading an RSA key checks it
    (about 0.2 s for 3072 bits), so a file's content is read once per process: a reload
    after a rotation reads only the new key. A file that cannot be read raises each time."""
    private = serialization.load_pem_private_key(pem, password=passphrase)
    plain = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return plain, key_class(alg)(private, plain)


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _complete(keyring: Keyring, policy: Policy, now: int) -> bool:
    return all(
        keyring.find(alg, state) for alg in policy.algorithms for state in ("current", "next")
    ) and not any(k.state == "retired" and k.retire_until <= now for k in keyring.keys)


PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----\r?\n(.*?)-----END \1-----", re.S)


def _damage(pem: bytes) -> str | None:
    """What is wrong with a key file that cannot be read, when it is the file and not the
    passphrase: no complete PEM block, data that is not base64, or DER cut short."""
    block = PEM_BLOCK.search(pem)
    if block is None:
        return f"no complete PEM block in its {len(pem)} bytes (cut short?)"
    try:
        der = base64.b64decode(block.group(2), validate=False)
    except binascii.Error:
        return "its key data is not base64"
    if len(der) < 2 or der[0] != 0x30:
        return "its key data is not a DER structure"
    size, header = der[1], 2
    if size & 0x80:
        count = size & 0x7F
        size, header = int.from_bytes(der[2:2 + count], "big"), 2 + count
    if header + size != len(der):
        return f"its key data has {len(der)} of {header + size} bytes"
    if block.group(1) != b"ENCRYPTED PRIVATE KEY":
        return "its key data is not a private key this provider can read"
    return None
