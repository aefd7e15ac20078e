"""Self-service: "Neuer Zugang", activation, "Passwort vergessen" and the new password.

The screen answer never depends on the address; what happens behind it does, and goes
to the mailbox owner by mail (DOMAIN.md): an activation link for an eligible person, an
explanation for "not released" or "not linked", a pointer to the login for an active
account, nothing for an unknown address. Links carry 256-bit random tokens stored as
digests, single use, voided by a newer link (and reset links by a login).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext
from sqlalchemy import select, update

from adapters.address import clean, is_plausible
from adapters.base import ELIGIBLE, NOT_LINKED, NOT_RELEASED, AdapterUnavailable

from . import db, eligibility, mail, portals, sessions, tokens
from .connectors import PortalUnavailable
from .models import Account, AccountToken, SsoSession, Token, Vhs, digest, now
from .passwords import passwords

SUBJECTS = {
    "activation": lazy_gettext("Ihr Zugang zum Kooperationsportal vhsKOOP"),
    "already_active": lazy_gettext("Ihr Zugang zum Kooperationsportal vhsKOOP besteht bereits"),
    "not_released": lazy_gettext("Ihr Zugang zum Kooperationsportal vhsKOOP: noch nicht "
                                 "freigegeben"),
    "not_linked": lazy_gettext("Ihr Zugang zum Kooperationsportal vhsKOOP: Verknüpfung fehlt"),
    "reset": lazy_gettext("Neues Passwort für das Kooperationsportal vhsKOOP"),
    "password_changed": lazy_gettext("Ihr Passwort für das Kooperationsportal vhsKOOP wurde "
                                     "geändert"),
    "test": lazy_gettext("Test-E-Mail des Kooperationsportals vhsKOOP"),
    "portal_login": lazy_gettext("Ihr Zugang zum Kooperationsportal vhsKOOP: Ihr "
                                 "itm:PORTAL-Login"),
    "source_switched": lazy_gettext("Kooperationsportal vhsKOOP: Anmeldung jetzt mit Ihrem "
                                    "itm:PORTAL-Login"),
}


class RequestUnavailable(Exception):
    """The Verwaltungsprogramm cannot be asked now; nothing was stored."""


@dataclass(frozen=True)
class Link:
    """A token as found from a link: valid, or why not."""

    token: AccountToken | None
    problem: str | None  # "unknown", "used", "expired"


def _vhs(slug: str) -> Vhs | None:
    return db.session().scalar(select(Vhs).where(Vhs.slug == slug[:63], Vhs.onboarded))


def _account(vhs: Vhs, address: str) -> Account | None:
    return db.session().scalar(select(Account).where(Account.vhs_id == vhs.id,
                                                     Account.address == address))


def _new_link(account: Account, purpose: str, ttl: int, next_url: str | None) -> str:
    """Void the account's earlier links of ``purpose`` and make a new one."""
    session = db.session()
    session.execute(update(AccountToken).where(
        AccountToken.account_id == account.id, AccountToken.purpose == purpose,
        AccountToken.used_at.is_(None), AccountToken.voided_at.is_(None)
    ).values(voided_at=now()))
    secret = secrets.token_urlsafe(32)
    session.add(AccountToken(account_id=account.id, purpose=purpose, token_hash=digest(secret),
                             next_url=next_url, created_at=now(), expires_at=now() + ttl))
    return secret


def _link_url(path: str, secret: str) -> str:
    return f"{current_app.config['ISSUER']}{path}?token={secret}"


def request_access(slug: str, typed: str, locale: str, next_url: str | None) -> None:
    """Handle "Neuer Zugang"; RequestUnavailable when the program cannot be asked."""
    vhs = _vhs(slug)
    address = clean(typed).value
    if vhs is None or not is_plausible(address):
        return
    try:
        on_portal = _on_portal(vhs, address)
        decision = eligibility.ask(vhs, address) if vhs.adapter else None
    except AdapterUnavailable as error:
        current_app.logger.warning("access request at vhs %s: program unavailable (%s)",
                                   vhs.slug, error)
        raise RequestUnavailable(str(error)) from None
    if on_portal is not None and (decision is None or decision.eligible):
        # Rule 3 of the help page: an itm:PORTAL login is used here too, no second account.
        _mail(vhs, address, "portal_login", locale, link=on_portal,
              link_label=lazy_gettext("Passwort vergessen im itm:PORTAL"))
        db.session().commit()
        return
    if decision is None:
        return  # no adapter: no self-service at this VHS, nobody gets a mail
    account = _account(vhs, address)
    if decision.status == ELIGIBLE:
        if account is not None and account.status == "active":
            _mail(vhs, address, "already_active", locale,
                  link=current_app.config["ISSUER"] + "/login",
                  link_label=lazy_gettext("Zur Anmeldung"))
        elif account is None or account.status == "pending":
            _activation(vhs, account, address, decision, locale, next_url)
        # a disabled account gets nothing: an administrator disabled it on purpose
    elif decision.status == NOT_RELEASED:
        _mail(vhs, address, "not_released", locale)
    elif decision.status == NOT_LINKED:
        _mail(vhs, address, "not_linked", locale)
    db.session().commit()


def _on_portal(vhs: Vhs, address: str) -> str | None:
    """The portal's reset URL when the portal has a login for the address, else None."""
    portal = portals.portal_for(vhs)
    if portal is None:
        return None
    try:
        return portal.password_reset_url(address) if portal.lookup(address) else None
    except PortalUnavailable as error:
        current_app.logger.warning("itm:PORTAL of vhs %s unavailable: %s", vhs.slug, error)
        raise RequestUnavailable(str(error)) from None


def mail_source_switched(account: Account) -> None:
    """Tell the person once that the itm:PORTAL login now counts (the caller commits)."""
    portal = portals.portal_for(account.vhs)
    _mail(account.vhs, account.address, "source_switched", "de",
          link=portal.password_reset_url(account.address) if portal else None,
          link_label=lazy_gettext("Passwort vergessen im itm:PORTAL"))


def _mail(vhs: Vhs, address: str, kind: str, locale: str, **values):
    return mail.enqueue(vhs, address, kind, SUBJECTS[kind], locale, **values)


def _activation(vhs, account, address, decision, locale, next_url) -> None:
    session = db.session()
    if account is None:
        name = decision.person.display_name if decision.person else None
        account = Account(vhs_id=vhs.id, address=address, status="pending",
                          display_name=(name or "")[:200] or None)
        session.add(account)
        session.flush()
    elif _recent(vhs, address, "activation"):
        return  # one activation mail per interval; its link stays valid
    secret = _new_link(account, "activate", current_app.config["ACTIVATION_TTL"], next_url)
    _mail(vhs, address, "activation", locale, link=_link_url("/zugang/aktivieren", secret),
          link_label=lazy_gettext("Passwort setzen"),
          hours=current_app.config["ACTIVATION_TTL"] // 3600)


def _recent(vhs: Vhs, address: str, kind: str) -> bool:
    from .models import OutboxMail

    since = now() - current_app.config["MAIL_INTERVAL_SECONDS"]
    return db.session().scalar(select(OutboxMail.id).where(
        OutboxMail.vhs_id == vhs.id, OutboxMail.recipient == address,
        OutboxMail.kind == kind, OutboxMail.created_at > since).limit(1)) is not None


def request_reset(slug: str, typed: str, locale: str) -> None:
    """Handle "Passwort vergessen": a reset link for an active local account, else nothing."""
    vhs = _vhs(slug)
    address = clean(typed).value
    if vhs is None or not is_plausible(address):
        return
    portal_reset = _on_portal(vhs, address)
    if portal_reset is not None:
        _mail(vhs, address, "portal_login", locale, link=portal_reset,
              link_label=lazy_gettext("Passwort vergessen im itm:PORTAL"))
        db.session().commit()
        return
    account = _account(vhs, address)
    if account is None or account.status != "active" or _recent(vhs, address, "reset"):
        return
    secret = _new_link(account, "reset", current_app.config["RESET_TTL"], None)
    _mail(vhs, address, "reset", locale, link=_link_url("/passwort-neu", secret),
          link_label=lazy_gettext("Neues Passwort setzen"),
          minutes=current_app.config["RESET_TTL"] // 60)
    db.session().commit()


def find_link(secret: str | None, purpose: str) -> Link:
    """The link's token if it can still be used, else why not."""
    if not secret or len(secret) > 100:
        return Link(None, "unknown")
    token = db.session().scalar(select(AccountToken).where(
        AccountToken.token_hash == digest(secret), AccountToken.purpose == purpose))
    if token is None:
        return Link(None, "unknown")
    if token.used_at or token.voided_at:
        return Link(None, "used")
    if token.expires_at <= now():
        return Link(None, "expired")
    return Link(token, None)


def set_password(token: AccountToken, password: str, locale: str) -> Account:
    """Use the link once: set the password, activate, and after a reset end everything."""
    session = db.session()
    used = session.execute(update(AccountToken).where(
        AccountToken.id == token.id, AccountToken.used_at.is_(None),
        AccountToken.voided_at.is_(None)).values(used_at=now())).rowcount
    if used != 1:
        raise ValueError("link used meanwhile")
    account = token.account
    account.password_hash = passwords().hash(password)
    account.password_changed_at = now()
    account.email_verified = True  # following the mailed link proved the mailbox
    if token.purpose == "activate":
        account.status = "active"
    else:
        end_everything(account)
        _mail(account.vhs, account.address, "password_changed", locale,
              link=current_app.config["ISSUER"] + "/passwort-vergessen",
              link_label=lazy_gettext("Passwort vergessen"))
    session.commit()
    return account


def end_everything(account: Account) -> None:
    """End every SSO session and revoke every token of the account (the caller commits)."""
    session = db.session()
    for live in session.scalars(select(SsoSession).where(SsoSession.account_id == account.id,
                                                         SsoSession.ended_at.is_(None))):
        sessions.end(live, commit=False)
    families = set(session.scalars(select(Token.family_id).where(
        Token.account_id == account.id)))
    for family in families:
        tokens.revoke_family(family)
    sessions.forget_current()


def void_reset_links(account_id: int) -> None:
    """A successful login voids pending reset links (the person knows the password)."""
    db.session().execute(update(AccountToken).where(
        AccountToken.account_id == account_id, AccountToken.purpose == "reset",
        AccountToken.used_at.is_(None), AccountToken.voided_at.is_(None)
    ).values(voided_at=now()))
    db.session().commit()
