"""Local accounts and VHS records, as administrators create them."""

from __future__ import annotations

import re

from sqlalchemy import select

from adapters.address import clean, is_plausible

from . import db
from .models import Account, Vhs, now
from .passwords import MAX_LENGTH, passwords

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")  # a DNS label: <slug>.meine-vhs.de
# NIST SP 800-63B asks at least 8 characters; for a single factor we ask more (BSI ORP.4).
MIN_PASSWORD_LENGTH = 12


class AccountError(ValueError):
    """The request breaks a rule; the message says which."""


def add_vhs(slug: str, name: str, onboarded: bool, commit: bool = True) -> Vhs:
    """Create a VHS (tenant)."""
    if not SLUG.match(slug or ""):
        raise AccountError("the VHS slug must be lower-case letters, digits and hyphens "
                           "(like the portal host name <slug>.meine-vhs.de)")
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise AccountError("the VHS name must be 1 to 200 characters")
    if db.session().scalar(select(Vhs.id).where(Vhs.slug == slug)):
        raise AccountError(f"a VHS {slug!r} exists already")
    vhs = Vhs(slug=slug, name=name, onboarded=onboarded)
    db.session().add(vhs)
    if commit:
        db.session().commit()
    else:
        db.session().flush()
    return vhs


def find_vhs(slug: str) -> Vhs:
    """The VHS with ``slug``; AccountError when there is none."""
    vhs = db.session().scalar(select(Vhs).where(Vhs.slug == slug))
    if vhs is None:
        raise AccountError(f"unknown VHS {slug!r} (see `vhskoop-idp vhs list`)")
    return vhs


def check_password(password: str) -> None:
    """Length rules only (no composition rules, NIST SP 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise AccountError(f"the password must have at most {MAX_LENGTH} characters")


def add_local(vhs_slug: str, address: str, password: str, name: str | None = None) -> Account:
    """Create an active local account with a password (administrators, tests)."""
    vhs = find_vhs(vhs_slug)
    cleaned = clean(address or "")
    if not is_plausible(cleaned.value):
        raise AccountError(f"not an e-mail address: {address!r}")
    check_password(password)
    exists = db.session().scalar(
        select(Account.id).where(Account.vhs_id == vhs.id, Account.address == cleaned.value)
    )
    if exists:
        raise AccountError(f"{cleaned.value} has an account at {vhs_slug} already")
    account = Account(
        vhs_id=vhs.id,
        address=cleaned.value,
        display_name=(name or "").strip()[:200] or None,
        password_hash=passwords().hash(password),
        status="active",
        email_verified=True,  # an administrator vouches for the address
        password_changed_at=now(),
    )
    db.session().add(account)
    db.session().commit()
    return account
