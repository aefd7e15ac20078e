"""Activation, password-reset and move links (a mover confirms the new address): 256-bit
random tokens, stored as digests, single use, short-lived, and voided by a newer link of
the same purpose (reset links also by a successful sign-in, since the person knows the
password again)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import bindparam, select, update

from . import db
from .models import Account, AccountToken, Purpose, digest, now

PATHS = {Purpose.ACTIVATE: "/zugang/aktivieren", Purpose.RESET: "/passwort-neu",
         Purpose.MOVE: "/adresse-bestaetigen"}
LIFETIMES = {Purpose.ACTIVATE: "ACTIVATION_TTL", Purpose.RESET: "RESET_TTL",
             Purpose.MOVE: "MOVE_TTL"}
HELP_PATH = "/hilfe/anfrage"
HELP_SECONDS = 7 * 86400  # a help link works this long; a request is re-checked as long


@dataclass(frozen=True)
class Link:
    """A token as found from a link: valid (no problem), or why not (the token, if one was
    found, still tells whose link it was)."""

    token: AccountToken | None
    problem: str | None  # "unknown", "used", "expired"


def lifetime(purpose: str) -> int:
    """How long a link of ``purpose`` is valid, in seconds."""
    return current_app.config[LIFETIMES[purpose]]


def new(account: Account, purpose: str, next_url: str | None = None) -> str:
    """Void the account's earlier links of ``purpose`` and make a new one; its URL."""
    void(account.id, purpose)
    secret = secrets.token_urlsafe(32)
    moment = now()
    db.session().add(AccountToken(account_id=account.id, purpose=purpose,
                                  token_hash=digest(secret), next_url=next_url,
                                  created_at=moment, expires_at=moment + lifetime(purpose)))
    return f"{current_app.config['ISSUER']}{PATHS[purpose]}?token={secret}"


def find(secret: str | None, purpose: str) -> Link:
    """The link's token if it can still be used, else why not."""
    if not secret or len(secret) > 100:
        return Link(None, "unknown")
    token = db.session().scalar(select(AccountToken).where(
        AccountToken.token_hash == digest(secret), AccountToken.purpose == purpose))
    if token is None:
        return Link(None, "unknown")
    if token.used_at or token.voided_at:
        return Link(token, "used")
    if token.expires_at <= now():
        return Link(token, "expired")
    return Link(token, None)


def use(token: AccountToken) -> bool:
    """Spend the link, exactly once (False when another request spent it first)."""
    return db.session().execute(update(AccountToken).where(
        AccountToken.id == token.id, AccountToken.used_at.is_(None),
        AccountToken.voided_at.is_(None)).values(used_at=now())).rowcount == 1


VOID = update(AccountToken).where(
    AccountToken.account_id == bindparam("owner"),
    AccountToken.purpose == bindparam("of_purpose"),
    AccountToken.used_at.is_(None), AccountToken.voided_at.is_(None)
).values(voided_at=bindparam("moment"))


def void(account_id: int, purpose: str) -> None:
    """Void the account's open links of ``purpose``."""
    db.session().execute(VOID, {"owner": account_id, "of_purpose": purpose, "moment": now()})


def _help_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="help-request")


def help_url(vhs_slug: str, address: str) -> str:
    """The "Meine VHS um Hilfe bitten" link of a mail to ``address``: following it proves
    the mailbox. Signed (IDP_SECRET_KEY), valid HELP_SECONDS; nothing is stored."""
    token = _help_signer().dumps([vhs_slug, address])
    return f"{current_app.config['ISSUER']}{HELP_PATH}?{urlencode({'t': token})}"


def help_of(token: str | None) -> tuple[str, str] | None:
    """The (VHS slug, address) of a help link's token; None when forged or expired."""
    if not token or len(token) > 1000:
        return None
    try:
        slug, address = _help_signer().loads(token, max_age=HELP_SECONDS)
    except (BadData, TypeError, ValueError):
        return None
    return (slug, address) if isinstance(slug, str) and isinstance(address, str) else None
