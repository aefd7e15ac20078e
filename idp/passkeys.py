"""Passkeys and security keys (WebAuthn Level 2) with ``webauthn`` (py_webauthn).

The relying party id is the issuer's host and the only origin the issuer's. Registration
asks for a resident (discoverable) key and user verification, both "preferred", without
attestation; each account may hold several credentials, each named by the person. A
sign-in either names the account (the second step after the password: its credentials
are allowed) or not ("Mit Passkey anmelden": any discoverable credential, with user
verification required, so the passkey alone is two factors: possession and the PIN or
fingerprint that unlocks it). The challenge waits in the browser's signed session for
at most ``CEREMONY_SECONDS`` and is used once.

A credential's ``amr`` (RFC 8176): ``hwk`` for a key bound to one device, ``swk`` for a
synced passkey, ``user`` for the presence test, and ``mfa`` when the authenticator
verified the user.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from . import db
from .models import Account, Passkey, now

CEREMONY_SECONDS = 300
TIMEOUT_MS = 120_000
MAX_CREDENTIAL = 20_000  # characters of a posted credential (JSON)
NAME_LENGTH = 60


class PasskeyError(Exception):
    """A ceremony that failed: a wrong origin, a stale challenge, an unknown credential."""


class UnknownCredential(PasskeyError):
    """The browser offered a passkey no account here has (or not this account's): the
    page says so instead of "try again"."""


@dataclass(frozen=True)
class Ceremony:
    """What the browser is asked for (``options``, JSON) and what the server keeps."""

    options: str
    challenge: str  # base64url; kept in the signed session
    at: int


def rp_id() -> str:
    """The issuer's host name."""
    return urlsplit(current_app.config["ISSUER"]).hostname or ""


def origin() -> str:
    """The one origin a ceremony may come from: the issuer's."""
    parts = urlsplit(current_app.config["ISSUER"])
    return f"{parts.scheme}://{parts.netloc}"


def usable() -> bool:
    """Whether browsers can use passkeys here at all: WebAuthn needs a host name, not an
    IP address (the demo at http://127.0.0.1 cannot; http://localhost can)."""
    host = rp_id()
    return bool(host) and not host.replace(".", "").isdigit() and ":" not in host


def of(account: Account) -> list[Passkey]:
    """The account's credentials, oldest first."""
    return list(db.session().scalars(select(Passkey).where(Passkey.account_id == account.id)
                                     .order_by(Passkey.created_at, Passkey.id)))


def registration(account: Account, existing: list[Passkey]) -> Ceremony:
    """Options for a new credential of ``account``; ``existing`` (its credentials) are
    excluded."""
    options = generate_registration_options(
        rp_id=rp_id(), rp_name=f"vhsKOOP ({account.vhs.name})"[:64],
        user_id=account.sub.encode(), user_name=account.address,
        user_display_name=account.display_name or account.address,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED),
        exclude_credentials=_descriptors(existing),
    )
    return Ceremony(_embeddable(options_to_json(options)), bytes_to_base64url(options.challenge),
                    now())


def register(account: Account, credential: str, challenge: str, at: int,
             name: str) -> Passkey:
    """Check the browser's answer to ``registration`` and keep the credential."""
    _fresh(at)
    try:
        verified = verify_registration_response(
            credential=_parsed(credential), expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id(), expected_origin=origin())
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError) as error:
        raise PasskeyError(f"registration refused: {type(error).__name__}") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session().scalar(select(Passkey.id).where(Passkey.credential_id == credential_id)):
        raise PasskeyError("registration refused: the credential is registered already")
    passkey = Passkey(account_id=account.id, credential_id=credential_id,
                      public_key=verified.credential_public_key,
                      sign_count=verified.sign_count, name=name,
                      synced=verified.credential_device_type
                      == CredentialDeviceType.MULTI_DEVICE)
    db.session().add(passkey)
    db.session().flush()
    return passkey


def authentication(allowed: list[Passkey] | None) -> Ceremony:
    """Options for a sign-in: with the account's credentials ``allowed`` (a second step),
    or for any discoverable one with user verification required (``allowed`` None)."""
    options = generate_authentication_options(
        rp_id=rp_id(), timeout=TIMEOUT_MS, allow_credentials=_descriptors(allowed or []),
        user_verification=UserVerificationRequirement.PREFERRED if allowed is not None
        else UserVerificationRequirement.REQUIRED)
    return Ceremony(_embeddable(options_to_json(options)), bytes_to_base64url(options.challenge),
                    now())


def authenticate(credential: str, challenge: str, at: int,
                 account_id: int | None) -> tuple[Passkey, tuple[str, ...]]:
    """Check a sign-in with a credential: the passkey and its ``amr``. ``account_id``: the
    account it must belong to (a second step); None: any (user verification required)."""
    _fresh(at)
    parsed = _parsed(credential)
    passkey = db.session().scalar(select(Passkey).where(
        Passkey.credential_id == str(parsed.get("id", ""))[:1400]))
    if passkey is None or (account_id is not None and passkey.account_id != account_id):
        raise UnknownCredential("sign-in refused: unknown credential")
    try:
        verified = verify_authentication_response(
            credential=parsed, expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id(), expected_origin=origin(),
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=account_id is None)
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError) as error:
        raise PasskeyError(f"sign-in refused: {type(error).__name__}") from None
    passkey.sign_count, passkey.last_used_at = verified.new_sign_count, now()
    synced = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    passkey.synced = synced
    amr = ("swk" if synced else "hwk", "user") + (("mfa",) if verified.user_verified else ())
    return passkey, amr


def _descriptors(keys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=base64url_to_bytes(key.credential_id))
            for key in keys]


def clean_name(typed: str | None) -> str:
    """The person's name for a credential, at most NAME_LENGTH characters (never cut: a
    longer one is refused by the caller)."""
    return " ".join((typed or "").split())


def _embeddable(options: str) -> str:
    """JSON that can stand in a page's <script> element: no "<" (a name cannot end it)."""
    return options.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _fresh(at: int) -> None:
    if not isinstance(at, int) or now() - at > CEREMONY_SECONDS:
        raise PasskeyError("the ceremony took too long")


def _parsed(credential: str) -> dict:
    if not credential or len(credential) > MAX_CREDENTIAL:
        raise PasskeyError("no credential, or one far too large")
    try:
        parsed = json.loads(credential)
    except ValueError:
        raise PasskeyError("the credential is not JSON") from None
    if not isinstance(parsed, dict):
        raise PasskeyError("the credential is not a JSON object")
    return parsed
