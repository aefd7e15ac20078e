"""The login decision: authenticate(vhs, address, password) -> Identity | None.

Order (see DESIGN.md): clean the address; the VHS must be onboarded; the local account
must be active and its Argon2id hash must match; then the VHS's Verwaltungsprogramm must
still say "eligible" (idp.eligibility, which raises CheckUnavailable when it cannot be
asked). Every refusal before that costs one Argon2id verification, so the answer's timing
does not tell an unknown address from a wrong password.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from adapters.address import clean, is_plausible

from . import db, eligibility, portals
from .connectors import PortalUnavailable
from .models import Account, Vhs
from .passwords import MAX_LENGTH, passwords


@dataclass(frozen=True)
class Identity:
    """Who logged in, as the rest of the provider needs it."""

    account_id: int
    sub: str
    vhs: str
    address: str
    name: str | None
    amr: tuple[str, ...]


def onboarded_vhs() -> list[Vhs]:
    """The VHS shown in the login drop-down, by name."""
    return list(db.session().scalars(select(Vhs).where(Vhs.onboarded).order_by(Vhs.name)))


def authenticate(vhs_slug: str, typed_address: str, password: str) -> Identity | None:
    """Check a password login; None for every kind of refusal (the reason is logged).

    Raises PortalDown when the VHS's itm:PORTAL cannot answer (never a local fallback)
    and CheckUnavailable when the Verwaltungsprogramm cannot be asked.
    """
    address = clean(typed_address or "").value
    account = None
    if is_plausible(address) and len(password) <= MAX_LENGTH:
        vhs = db.session().scalar(select(Vhs).where(Vhs.slug == vhs_slug[:63], Vhs.onboarded))
        if vhs is not None:
            account = db.session().scalar(select(Account).where(
                Account.vhs_id == vhs.id, Account.address == address))
            portal = portals.portal_for(vhs)
            if portal is not None and _portal_knows(portal, address):
                return _portal_login(portal, vhs, account, address, password)
    stored = account.password_hash if account is not None else None
    matches = passwords().verify(stored, password[:MAX_LENGTH])
    if account is None or not matches or account.status != "active":
        reason = ("unknown address" if account is None else
                  "wrong password" if not matches else f"account {account.status}")
        current_app.logger.info("login refused at vhs %r: %s", vhs_slug, reason)
        return None
    if not eligibility.allows(account.vhs, account.address):  # raises CheckUnavailable
        current_app.logger.info("login refused at vhs %r: not eligible in the program",
                                vhs_slug)
        return None
    if passwords().needs_rehash(account.password_hash):
        account.password_hash = passwords().hash(password)
        db.session().commit()
    return identity_of(account)


def _portal_knows(portal, address: str) -> bool:
    try:
        return portal.lookup(address)
    except PortalUnavailable as error:
        current_app.logger.warning("itm:PORTAL lookup failed: %s", error)
        raise portals.PortalDown(str(error)) from None


def _portal_login(portal, vhs: Vhs, account: Account | None, address: str,
                  password: str) -> Identity | None:
    """The portal's password counts; the local one (if any) no longer does."""
    try:
        person = portal.login(address, password)
    except PortalUnavailable as error:
        current_app.logger.warning("itm:PORTAL login check failed at vhs %s: %s", vhs.slug,
                                   error)
        raise portals.PortalDown(str(error)) from None
    if person is None:
        current_app.logger.info("login refused at vhs %r: wrong itm:PORTAL password", vhs.slug)
        return None
    if account is not None and account.status == "disabled":
        current_app.logger.info("login refused at vhs %r: account disabled", vhs.slug)
        return None
    if not eligibility.allows(vhs, address):
        current_app.logger.info("login refused at vhs %r: not eligible in the program",
                                vhs.slug)
        return None
    account, switched = portals.portal_account(vhs, account, address, person)
    if switched:
        from .selfservice import mail_source_switched

        mail_source_switched(account)
    db.session().commit()
    return identity_of(account)


def identity_of(account: Account) -> Identity:
    """The Identity of an account that just proved its password."""
    return Identity(
        account_id=account.id,
        sub=account.sub,
        vhs=account.vhs.slug,
        address=account.address,
        name=account.display_name,
        amr=("pwd",),
    )
