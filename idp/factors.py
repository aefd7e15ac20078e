"""Second factors and the policies that require them.

An account's factors are an authenticator app (TOTP, RFC 6238, with ``pyotp``), any
number of passkeys and security keys (``idp.passkeys``) and ten single-use recovery
codes. A TOTP secret is sealed at rest and counts only once the person confirmed it
with a current code; each accepted code is spent (its time step is stored, and only a
later step is accepted again), with a skew of one step either way. Recovery codes are
stored as digests and come with the first factor; they are no factor of their own.

The policy (``required``): the strongest applicable rule wins. A sign-in needs a second
factor when the person's VHS requires one (``vhskoop-idp vhs set-mfa``), when the
relying party does (``clients add --require-mfa``), or when the request asks with the
multi-factor ``acr_values``; the console requires one of every role holder. A session
satisfies it when its ``amr`` holds ``mfa`` (RFC 8176): a password with a TOTP code, a
recovery code or a passkey, a passkey with user verification alone, or an itm:PORTAL
sign-in whose upstream ``amr`` already said ``mfa``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

import pyotp
import segno
from flask import current_app
from markupsafe import Markup
from sqlalchemy import bindparam, delete, exists, func, select, update

from . import audit, db, notices, passkeys, sessions, signals
from .models import Account, Client, Passkey, RecoveryCode, TotpFactor, Vhs, now
from .sealing import SealError, seal, unseal

MULTI_FACTOR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
ACR_VALUES = (MULTI_FACTOR,)
TOTP_ISSUER = "vhsKOOP"
TOTP_SKEW = 1  # time steps accepted before and after the current one
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
SEALED_AS = "totp-secret"
AMR_CODE = ("otp", "mfa")  # a TOTP or recovery code after the password


@dataclass
class Factors:
    """What an account has, for its page and the second step."""

    totp: TotpFactor | None = None  # confirmed only
    passkeys: list[Passkey] = field(default_factory=list)
    recovery_left: int = 0
    setting_up: TotpFactor | None = None  # an app not yet confirmed

    @property
    def any(self) -> bool:
        """Whether the account has a second factor (recovery codes alone are none)."""
        return self.totp is not None or bool(self.passkeys)

    @property
    def count(self) -> int:
        """How many factors (the app counts as one, each passkey as one)."""
        return (self.totp is not None) + len(self.passkeys)


def of(account: Account) -> Factors:
    """The account's factors (an app being set up apart) and how many recovery codes are
    left."""
    app = db.session().scalar(select(TotpFactor).where(TotpFactor.account_id == account.id))
    left = db.session().scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None)))
    confirmed = app is not None and app.confirmed_at is not None
    return Factors(app if confirmed else None, passkeys.of(account), left or 0,
                   None if confirmed else app)


HAS_ANY = select(
    exists().where(TotpFactor.account_id == bindparam("account_id"),
                   TotpFactor.confirmed_at.is_not(None))
    | exists().where(Passkey.account_id == bindparam("account_id")))


def has_any(account_id: int) -> bool:
    """Whether the account has a second factor (one query, for every sign-in)."""
    return bool(db.session().scalar(HAS_ANY, {"account_id": account_id}))


def required(account: Account, client=None, acr_values: str | None = None) -> bool:
    """Whether a sign-in of ``account`` (for ``client``, asking ``acr_values``) needs a
    second factor: the strongest of the VHS's, the client's and the request's rules."""
    return bool(account.vhs.mfa_required or (client is not None and client.require_mfa)
                or MULTI_FACTOR in (acr_values or "").split())


def set_policy(target: Vhs | Client, required_now: bool, actor: str) -> bool:
    """Require a second factor for every sign-in at a VHS or for a relying party, or not:
    the one way the console and the command line change it, with its audit event (kind
    ``mfa_policy``, naming who). False when nothing changed."""
    is_vhs = isinstance(target, Vhs)
    field = "mfa_required" if is_vhs else "require_mfa"
    if bool(getattr(target, field)) == required_now:
        return False
    setattr(target, field, required_now)
    audit.record("mfa_policy", vhs=target.slug if is_vhs else None,
                 client=None if is_vhs else target.client_id, actor=actor,
                 detail="required" if required_now else "optional")
    return True


def satisfied(amr) -> bool:
    """Whether a session's methods include a second factor."""
    return "mfa" in (amr or ())


def with_factor(amr, methods) -> list[str]:
    """A session's methods after a second factor proven with ``methods``: those and
    ``mfa`` added, no duplicates, in order."""
    return list(dict.fromkeys([*amr, *methods, "mfa"]))


# TOTP -----------------------------------------------------------------------------------

def begin_totp(account: Account, secret: str | None = None) -> str:
    """A new secret for the authenticator app (unconfirmed until ``confirm_totp``);
    ``secret``: a given one (the demo's, printed in its banner), else a random one."""
    secret = secret or pyotp.random_base32()
    db.session().execute(db.insert(TotpFactor).values(account_id=account.id, secret="")
                         .on_conflict_do_nothing())  # a double click makes no duplicate
    row = db.session().scalar(select(TotpFactor).where(TotpFactor.account_id == account.id)
                              .execution_options(populate_existing=True))
    if row.confirmed_at is not None:
        raise ValueError("the account has an authenticator app already")
    row.secret, row.created_at, row.last_step = seal({"secret": secret}, SEALED_AS), now(), 0
    db.session().flush()
    return secret


def setup_secret(have: Factors) -> str | None:
    """The secret of the app being set up, to show it again (None: none being set up)."""
    return _secret(have.setting_up) if have.setting_up is not None else None


def provisioning_uri(account: Account, secret: str) -> str:
    """The ``otpauth://`` URI the app reads (from the QR code or typed)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account.address,
                                               issuer_name=f"{TOTP_ISSUER} {account.vhs.name}")


def qr_code(uri: str, title: str) -> Markup:
    """The URI as an inline SVG QR code (segno; nothing is loaded from elsewhere)."""
    return Markup(segno.make(uri, error="m").svg_inline(scale=4, border=2, title=title,
                                                         svgclass="qr", omitsize=False))


def confirm_totp(account: Account, code: str, announce: bool = True) -> bool:
    """Confirm the app being set up with a current code; then it counts (and the person
    is told by mail, unless ``announce`` is False: the demo's seed)."""
    row = db.session().scalar(select(TotpFactor).where(
        TotpFactor.account_id == account.id, TotpFactor.confirmed_at.is_(None)))
    step = _matching_step(row, code) if row is not None else None
    if step is None:
        return False
    row.confirmed_at, row.last_step, row.last_used_at = now(), step, now()
    if announce:
        changed(account, "totp_added")
    return True


def check_totp(account_id: int, code: str) -> bool:
    """A second step with the app: a current code, not used before (each code once)."""
    row = db.session().scalar(select(TotpFactor).where(
        TotpFactor.account_id == account_id, TotpFactor.confirmed_at.is_not(None)))
    step = _matching_step(row, code) if row is not None else None
    if step is None:
        return False
    spent = db.session().execute(  # one winner even for two requests with the same code
        update(TotpFactor).where(TotpFactor.id == row.id, TotpFactor.last_step < step)
        .values(last_step=step, last_used_at=now())).rowcount
    return bool(spent)


def _matching_step(row: TotpFactor, code: str) -> int | None:
    code = "".join((code or "").split())
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    secret = _secret(row)
    if secret is None:
        return None
    totp, current = pyotp.TOTP(secret), now() // 30
    for step in range(current - TOTP_SKEW, current + TOTP_SKEW + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _secret(row: TotpFactor) -> str | None:
    try:
        return unseal(row.secret, SEALED_AS)["secret"]
    except (SealError, KeyError, TypeError):
        return None  # sealed under another IDP_SECRET_KEY: the app must be set up again


def remove_totp(account: Account) -> bool:
    """Remove the authenticator app (also one being set up)."""
    removed = db.session().execute(
        delete(TotpFactor).where(TotpFactor.account_id == account.id)).rowcount
    return bool(removed)


# Recovery codes ---------------------------------------------------------------------------

def new_recovery_codes(account: Account) -> list[str]:
    """Ten new recovery codes (the old ones stop working); shown once, stored as digests."""
    db.session().execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    codes = ["-".join("".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(5))
                      for _ in range(2)) for _ in range(RECOVERY_CODES)]
    db.session().add_all(RecoveryCode(account_id=account.id, code_hash=_code_digest(code))
                         for code in codes)
    db.session().flush()
    return codes


def use_recovery_code(account_id: int, typed: str) -> int | None:
    """Spend one recovery code; how many are left, or None for a wrong or used one."""
    hashed = _code_digest(typed)
    used = db.session().execute(update(RecoveryCode).where(
        RecoveryCode.account_id == account_id, RecoveryCode.code_hash == hashed,
        RecoveryCode.used_at.is_(None)).values(used_at=now())).rowcount
    if not used:
        return None
    return db.session().scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None)))


def _code_digest(typed: str) -> str:
    """Keyed (IDP_SECRET_KEY): a stolen table cannot be searched for ~50-bit codes."""
    cleaned = "".join(ch for ch in (typed or "").lower()[:64] if ch.isalnum())
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"recovery-code:" + cleaned.encode(), hashlib.sha256).hexdigest()


# Removal ------------------------------------------------------------------------------------

def remove_passkey(account: Account, passkey_id: int) -> bool:
    """Remove one of the account's passkeys."""
    return bool(db.session().execute(delete(Passkey).where(
        Passkey.id == passkey_id, Passkey.account_id == account.id)).rowcount)


def removed(account: Account, what: str) -> None:
    """After removing a factor: no recovery codes without a factor; the mail; the trail."""
    if not has_any(account.id):
        db.session().execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    changed(account, what)


def reset(account: Account, actor: str) -> bool:
    """Remove every factor and recovery code (the console's "zweiten Faktor zurücksetzen",
    ``vhskoop-idp accounts reset-mfa``) and end the account's sessions (whoever holds the
    lost device may hold one); False when there was nothing to remove."""
    removed = {model: db.session().execute(delete(model).where(
        model.account_id == account.id)).rowcount for model in (TotpFactor, Passkey, RecoveryCode)}
    had = sum(removed.values()) > 0
    for model, credential in ((TotpFactor, "app"), (Passkey, "fido2-platform")):
        if removed[model]:
            signals.credential_change(account, credential, "revoke", initiating="admin")
    if had:
        sessions.end_all(account)
        audit.record("mfa_reset", vhs=account.vhs.slug, sub=account.sub, actor=actor)
        notices.factors_changed(account, "reset", by=actor)
    return had


CREDENTIAL_CHANGES = {"totp_added": ("app", "create"), "totp_removed": ("app", "delete"),
                      "passkey_added": ("fido2-platform", "create"),
                      "passkey_removed": ("fido2-platform", "delete")}  # CAEP 1.0 3.2


def changed(account: Account, what: str) -> None:
    """Record and mail a change of the factors, and tell the services (``idp.signals``)."""
    audit.record("mfa_change", vhs=account.vhs.slug, sub=account.sub, detail=what)
    notices.factors_changed(account, what)
    signals.credential_change(account, *CREDENTIAL_CHANGES[what])
