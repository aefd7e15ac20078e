"""The sign-in decision: who may sign in, confirmed by which source.

``authenticate(vhs, address, password)``, in order:
1. Clean the typed address; the VHS must be onboarded.
2. The VHS's itm:PORTAL (if it has one) is asked whether it knows the address. If so, the
   portal checks the password, and a local password no longer counts. An unreachable
   portal refuses with ``portal_unavailable`` (never a fallback to a local password),
   except for the right password of a local account the portal said it did not know
   within IDP_PORTAL_GRACE_SECONDS: one system that is not ours must not take the whole
   VHS offline. Every address costs the same Argon2id verification then, and every
   refusal is the same, so only the right password tells, and only its owner.
3. Otherwise the local account must be active and its Argon2id hash must match (or, for
   an account imported from the old login, its imported hash, replaced by Argon2id on
   success). Every refusal on this path costs at least one Argon2id verification, so the
   answer's timing does not tell an unknown address from a wrong password.
4. The VHS's Verwaltungsprogramm must still say "eligible" (``idp.eligibility``; an
   unreachable program raises ``AdapterUnavailable`` unless its grace period applies).
``admit`` does steps 4 and the account for a person the itm:PORTAL confirmed through its
OpenID provider; ``after_link`` for a person who just set a password with a mailed link;
``by_passkey`` for a person whose discoverable passkey named the account.
The answer is an ``Identity`` tied to the account (same ``sub`` whichever source), or a
``Refusal`` saying why; the person is told only that the sign-in failed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from flask import current_app

from adapters.address import clean, is_plausible

from . import accounts, audit, db, eligibility, leavers, legacy, notices, portals, tenants
from .connectors import PortalUnavailable
from .identity import Identity, Reason, Refusal, Via
from .models import Account, Source, Status, Vhs, now
from .passwords import MAX_LENGTH, passwords

OLD_LOGIN = "old login"


def authenticate(vhs_slug: str, typed_address: str, password: str) -> Identity | Refusal:
    """Check a password sign-in."""
    address = clean(typed_address or "").value
    account = vhs = None
    portal_down = False
    if is_plausible(address) and len(password) <= MAX_LENGTH:
        vhs = tenants.onboarded(vhs_slug)
    if vhs is not None:
        account = accounts.find(vhs, address)
        portal = portals.portal_for(vhs)
        try:
            if portal is not None and _on_portal(portal, account, address):
                confirmed = portal.login(address, password)
                if confirmed is None:
                    return _refused(Reason.WRONG_PASSWORD, Via.PORTAL_PASSWORD, vhs_slug,
                                    address)
                return admit(vhs, confirmed)
        except PortalUnavailable as error:
            current_app.logger.warning("sign-in at vhs %r: itm:PORTAL unavailable: %s",
                                       vhs_slug[:63], error)
            portal_down = True
    checked = _check_password(vhs, account, address, password[:MAX_LENGTH])
    matches = checked.matches
    if vhs is None:
        return _refused(Reason.MALFORMED, Via.PASSWORD, vhs_slug, address)
    if portal_down:
        if not (matches and _portal_grace(account)):
            return _refused(Reason.PORTAL_UNAVAILABLE, Via.PORTAL_PASSWORD, vhs_slug, address)
        audit.record("portal_fallback", vhs=vhs.slug, sub=account.sub,
                     detail="itm:PORTAL unreachable; the local password was checked")
    if account is None:
        return _refused(Reason.UNKNOWN, Via.PASSWORD, vhs_slug, address)
    if not matches:
        reason = Reason.LEGACY_UNAVAILABLE if checked.unavailable else Reason.WRONG_PASSWORD
        return _refused(reason, Via.PASSWORD, vhs_slug, address)
    refused = _not_admitted(account, Via.PASSWORD)
    if refused is not None:
        return refused
    if checked.confirmed_by:
        _upgrade(account, password, checked.confirmed_by)
    elif passwords().needs_rehash(account.password_hash):
        account.password_hash = passwords().hash(password)
    return _confirmed(account, Via.PASSWORD, ("pwd",))


@dataclass(frozen=True)
class Checked:
    """A password check: whether it matched, what confirmed it when that was not our own
    Argon2id hash (an imported hash's format, or the old login), and whether the old login
    could not answer."""

    matches: bool
    confirmed_by: str | None = None
    unavailable: bool = False


def _check_password(vhs: Vhs | None, account: Account | None, address: str,
                    password: str) -> Checked:
    """Our Argon2id hash; for an imported account without one its imported hash, or else
    the old login (once). Every way costs at least one Argon2id verification."""
    if account is None or account.password_hash or account.imported_at is None:
        stored = account.password_hash if account is not None else None
        return Checked(passwords().verify(stored, password))
    if account.legacy_hash:
        return Checked(passwords().verify_imported(account.legacy_hash, password),
                       legacy.format_of(account.legacy_hash))
    old_login = portals.legacy_login_for(vhs)
    if old_login is None:
        return Checked(passwords().verify(None, password))
    started = time.perf_counter()
    try:
        return Checked(old_login.login(address, password) is not None, OLD_LOGIN)
    except PortalUnavailable as error:
        current_app.logger.warning("sign-in at vhs %r: the old login is unavailable: %s",
                                   vhs.slug, error)
        return Checked(False, unavailable=True)
    finally:
        passwords().pad(started)


def _upgrade(account: Account, password: str, confirmed_by: str) -> None:
    """Store the password as Argon2id in place of the imported hash (or after the old
    login confirmed it), in this sign-in's transaction; the old login is not asked again."""
    account.password_hash = passwords().hash(password)
    account.legacy_hash = None
    audit.record("password_upgraded", vhs=account.vhs.slug, sub=account.sub,
                 detail=confirmed_by)


def _on_portal(portal, account: Account | None, address: str) -> bool:
    """Whether the portal has this login (PortalUnavailable when it cannot say)."""
    known = portal.lookup(address)
    if not known and account is not None:
        account.portal_unknown_at = now()
    return known


def _portal_grace(account: Account | None) -> bool:
    """Whether a local account may sign in while its VHS's itm:PORTAL is unreachable:
    the portal said it did not know the address within IDP_PORTAL_GRACE_SECONDS."""
    grace = current_app.config["PORTAL_GRACE_SECONDS"]
    return bool(grace and account is not None and account.source == Source.LOCAL
                and account.portal_unknown_at and now() - account.portal_unknown_at <= grace)


def admit(vhs: Vhs, confirmed: Identity) -> Identity | Refusal:
    """A person the VHS's itm:PORTAL confirmed: still eligible, and their portal account.

    The account is made, or switched from local keeping its ``sub`` (the person gets one
    mail saying that the portal's password counts from now on).
    """
    account = accounts.find(vhs, confirmed.address)
    if account is not None and account.status == Status.DISABLED:
        return _refused(Reason.DISABLED, confirmed.via, vhs.slug, confirmed.address)
    if not eligibility.allows(vhs, confirmed.address) or (
            account is not None and account.status == Status.LEFT):
        return _refused(Reason.NOT_ELIGIBLE, confirmed.via, vhs.slug, confirmed.address)
    account = _portal_account(vhs, account, confirmed)
    return replace(confirmed, account_id=account.id, sub=account.sub,
                   name=account.display_name)


def after_link(account: Account) -> Identity | Refusal:
    """A person who just set a password with a mailed link, if the program still agrees."""
    return _still_allowed(account, Via.LINK, ("pwd",))


def by_passkey(account: Account, amr: tuple[str, ...]) -> Identity | Refusal:
    """A person whose passkey (with user verification) named the account: step 4 still."""
    return _still_allowed(account, Via.PASSKEY, amr)


def _still_allowed(account: Account, via: str, amr: tuple[str, ...]) -> Identity | Refusal:
    return _not_admitted(account, via) or _confirmed(account, via, amr)


def _not_admitted(account: Account, via: str) -> Refusal | None:
    """Why a confirmed person may not sign in (the account's state, the program's "no"),
    or None. A closed account opens again here: a leaver the program lists again, or one
    closed because nobody signed in (``idp.leavers``)."""
    slug, address = account.vhs.slug, account.address
    if not (account.active or account.status == Status.LEFT):
        reason = Reason.DISABLED if account.status == Status.DISABLED else Reason.PENDING
        return _refused(reason, via, slug, address)
    if not eligibility.admits(account):
        return _refused(Reason.NOT_ELIGIBLE, via, slug, address)
    if account.status == Status.LEFT:
        if account.leaving_since is not None:  # the program still says no
            return _refused(Reason.NOT_ELIGIBLE, via, slug, address)
        leavers.reopen(account)
    return None


def _confirmed(account: Account, via: str, amr: tuple[str, ...]) -> Identity:
    return Identity.of(account, via, amr)


def _refused(reason: str, via: str, vhs_slug: str, address: str) -> Refusal:
    current_app.logger.info("sign-in refused at vhs %r (%s): %s", vhs_slug[:63], via, reason)
    return Refusal(reason=reason, via=via, vhs=vhs_slug[:63], address=address)


def _portal_account(vhs: Vhs, account: Account | None, confirmed: Identity) -> Account:
    """The account of a portal user: made, or switched from local keeping its ``sub``."""
    if account is None:
        account = Account(vhs_id=vhs.id, vhs=vhs, address=confirmed.address,
                          status=Status.ACTIVE)
        db.session().add(account)
    elif account.source != Source.PORTAL and account.password_hash is not None:
        notices.source_switched(account)
    account.source = Source.PORTAL
    account.password_hash = None  # the local password no longer works
    if account.status == Status.PENDING:
        account.status = Status.ACTIVE
    account.email_verified = True
    if confirmed.name:
        account.display_name = confirmed.name[:200]
    db.session().flush()
    return account
