"""Self-service: "Neuer Zugang", "Passwort vergessen", the password set with a link, and a
mover's new address confirmed with one (``idp.movers``).

The screen answer never depends on the address; what happens behind it does, and goes
to the mailbox owner by mail: an activation link for an eligible person, an explanation
for "not released" or "not linked", a pointer to the login for an active account, a
pointer to the itm:PORTAL's own "Passwort vergessen" for a portal user; for an
address the program does not know (or not as active), the help page's checklist, at most
once a day. When the Verwaltungsprogramm or the portal cannot be asked,
``AdapterUnavailable`` or ``PortalUnavailable`` passes on and nothing is stored.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from adapters.address import clean, is_plausible
from adapters.base import ELIGIBLE, NOT_LINKED, NOT_RELEASED, Decision

from . import (
    accounts,
    audit,
    db,
    eligibility,
    links,
    mail,
    movers,
    notices,
    portals,
    sessions,
    signals,
    tenants,
)
from .models import Account, AccountToken, Purpose, Status, Vhs, now
from .passwords import passwords

# What a request led to (the console tells administrators; the pages never do).
OUTCOMES = ("malformed", "no_adapter", "portal_login", "already_active", "activation",
            "recently_sent", "disabled", "not_released", "not_linked", "not_registered",
            "no_active_account", "reset", "moving")
LINK_LABELS = {Purpose.ACTIVATE: lazy_gettext("Passwort setzen"),
               Purpose.RESET: lazy_gettext("Neues Passwort setzen")}
# Why a mover's new address could not be taken (``confirm_move``).
TAKEN = lazy_gettext("Unter der neuen Adresse gibt es bei Ihrer VHS schon einen Zugang. Bitte "
                     "wenden Sie sich an die Verwaltung Ihrer VHS.")
NOT_LISTED = lazy_gettext("Die Verwaltung Ihrer VHS führt Sie unter der neuen Adresse nicht "
                          "(mehr). Bitte wenden Sie sich an die Verwaltung Ihrer VHS.")
OVER = lazy_gettext("Dieser Umzug gilt nicht mehr: Ihr Zugang läuft weiter unter der "
                    "bisherigen Adresse.")


class MoveError(ValueError):
    """A move that cannot be done; the message says why, in words."""


def request_access(vhs_slug: str, typed: str, locale: str, next_url: str | None,
                   decision: Decision | None = None) -> str:
    """Handle "Neuer Zugang"; what was done, as a word of ``OUTCOMES`` (the console shows
    it to administrators; the page never depends on it). ``decision``: the program's
    answer when the caller has just asked it (a help request's re-check)."""
    vhs = tenants.onboarded(vhs_slug)
    address = clean(typed).value
    if vhs is None or not is_plausible(address):
        _audit("access_request", vhs_slug, address, "malformed")
        return "malformed"
    portal_reset = _portal_reset_url(vhs, address)
    if decision is None and vhs.adapter:
        decision = eligibility.ask(vhs, address)
    _audit("access_request", vhs.slug, address, decision.status if decision else "no_adapter",
           "itm:PORTAL" if portal_reset else None)
    if portal_reset is not None and (decision is None or decision.eligible):
        notices.portal_login(vhs, address, portal_reset, locale)
        return "portal_login"
    if decision is None:
        return "no_adapter"  # no self-service at this VHS, nobody gets a mail
    account = accounts.find(vhs, address)
    if decision.status == ELIGIBLE:
        if account is not None and account.status == Status.ACTIVE:
            notices.send(vhs, address, "already_active", locale,
                         link=notices.issuer_link("/login"),
                         link_label=lazy_gettext("Zur Anmeldung"))
            return "already_active"
        mover = movers.heading_to(vhs, address) if account is None else None
        if mover is not None:  # their account waits to move here: the link once more
            movers.remind(mover)
            return "moving"
        if account is None or account.status == Status.PENDING:
            return _activation(vhs, account, address, decision, locale, next_url)
        return "disabled"  # no mail: an administrator disabled it on purpose
    if decision.status in (NOT_RELEASED, NOT_LINKED):
        notices.send(vhs, address, decision.status, locale,
                     help_link=links.help_url(vhs.slug, address))
        return decision.status
    # unknown to the program, or not active
    notices.not_registered(vhs, address, locale, links.help_url(vhs.slug, address))
    return "not_registered"


def offer_help(vhs_slug: str, typed: str, locale: str) -> str:
    """Handle "Meine VHS um Hilfe bitten" (help page, login page): mail the link that opens
    a help request, at most once a day per VHS and address; what was done."""
    vhs = tenants.onboarded(vhs_slug)
    address = clean(typed).value
    if vhs is None or not is_plausible(address):
        return "malformed"
    sent = notices.send(vhs, address, "help_link", locale, interval=86400,
                        expires_at=now() + links.HELP_SECONDS,
                        link=links.help_url(vhs.slug, address),
                        link_label=lazy_gettext("Meine VHS um Hilfe bitten"))
    outcome = "link" if sent else "recently_sent"
    _audit("help_offer", vhs.slug, address, outcome)
    return outcome


def _portal_reset_url(vhs: Vhs, address: str) -> str | None:
    """The portal's reset URL when the portal has a login for the address, else None."""
    portal = portals.portal_for(vhs)
    if portal is None or not portal.lookup(address):
        return None
    return portal.password_reset_url(address)


def _activation(vhs: Vhs, account: Account | None, address: str, decision: Decision,
                locale: str, next_url: str | None) -> str:
    if account is None:
        name = decision.person.display_name if decision.person else None
        account = Account(vhs_id=vhs.id, vhs=vhs, address=address, status=Status.PENDING,
                          display_name=(name or "")[:200] or None)
        db.session().add(account)
        db.session().flush()
    elif mail.recently_sent(vhs, address, "activation"):
        return "recently_sent"  # one activation mail per interval; its link stays valid
    _mail_link(account, Purpose.ACTIVATE, "activation", locale, next_url)
    return "activation"


def _mail_link(account: Account, purpose: str, kind: str, locale: str,
               next_url: str | None) -> None:
    url = links.new(account, purpose, next_url)
    seconds = links.lifetime(purpose)
    notices.send(account.vhs, account.address, kind, locale, expires_at=now() + seconds,
                 link=url, link_label=LINK_LABELS[purpose], hours=seconds // 3600,
                 minutes=seconds // 60)


def request_reset(vhs_slug: str, typed: str, locale: str, next_url: str | None = None) -> str:
    """Handle "Passwort vergessen": a reset link for an active local account, else nothing;
    what was done, as a word of ``OUTCOMES``."""
    vhs = tenants.onboarded(vhs_slug)
    address = clean(typed).value
    if vhs is None or not is_plausible(address):
        _audit("reset_request", vhs_slug, address, "malformed")
        return "malformed"
    portal_reset = _portal_reset_url(vhs, address)
    if portal_reset is not None:
        _audit("reset_request", vhs.slug, address, "itm:PORTAL")
        notices.portal_login(vhs, address, portal_reset, locale)
        return "portal_login"
    account = accounts.find(vhs, address)
    mover = movers.heading_to(vhs, address) if account is None else None
    if mover is not None:  # their account waits to move here: confirm that first
        _audit("reset_request", vhs.slug, address, "moving")
        movers.remind(mover)
        return "moving"
    if account is None or not account.active:
        _audit("reset_request", vhs.slug, address, "no_active_account")
        return "no_active_account"
    _audit("reset_request", vhs.slug, address, "link")
    if mail.recently_sent(vhs, address, "reset"):
        return "recently_sent"
    _mail_link(account, Purpose.RESET, "reset", locale, next_url)
    return "reset"


def _audit(kind: str, vhs_slug: str, address: str, reason: str, detail: str | None = None):
    audit.record(kind, vhs=vhs_slug[:63], address=address, reason=reason, detail=detail)


def set_password(token: AccountToken, password: str, locale: str) -> Account | None:
    """Use the link once: set the password, activate, and after a reset end everything.

    None when another request used the link meanwhile.
    """
    if not links.use(token):
        return None
    account = token.account
    account.password_hash = passwords().hash(password)
    account.password_changed_at = now()
    account.email_verified = True  # following the mailed link proved the mailbox
    if token.purpose == Purpose.ACTIVATE:
        account.status = Status.ACTIVE
    else:
        sessions.end_all(account)
        notices.password_changed(account, locale)
        signals.credential_change(account, "password", "update")
    audit.record("activation" if token.purpose == Purpose.ACTIVATE else "password_reset",
                 vhs=account.vhs.slug, sub=account.sub)
    return account


def welcome_imported(vhs: Vhs, locale: str) -> int:
    """Mail every active imported person of ``vhs`` not welcomed yet, once: what changes,
    where to sign in; with a link to set a password when the import brought none and the
    old login cannot confirm it (``portals.legacy_login_for``). How many were queued."""
    checked_by_old_login = portals.legacy_login_for(vhs) is not None
    query = (select(Account).where(Account.vhs_id == vhs.id, Account.imported_at.is_not(None),
                                   Account.welcomed_at.is_(None),
                                   Account.status == Status.ACTIVE)
             .order_by(Account.id).execution_options(yield_per=500))
    count = 0
    for account in db.session().scalars(query):
        values = {"login": notices.issuer_link("/")}
        if not (account.password_hash or account.legacy_hash or checked_by_old_login):
            seconds = links.lifetime(Purpose.ACTIVATE)
            values.update(link=links.new(account, Purpose.ACTIVATE), hours=seconds // 3600)
        notices.send(vhs, account.address, "welcome", locale, interval=0, **values)
        account.welcomed_at = now()
        count += 1
    return count


def confirm_move(token: AccountToken) -> Account:
    """Follow the link: the account takes the address the program now has (asked again
    now), the same ``sub``. MoveError when it cannot (the message says why);
    AdapterUnavailable when the program cannot answer."""
    account = token.account
    new = account.moving_to
    if new is None or account.status != Status.ACTIVE:
        raise MoveError(OVER)
    if db.session().scalar(select(Account.id).where(
            Account.vhs_id == account.vhs_id, Account.address == new)) is not None:
        raise MoveError(TAKEN)
    if not eligibility.ask(account.vhs, new, react=False).eligible:
        raise MoveError(NOT_LISTED)
    if not links.use(token):
        raise MoveError(OVER)
    old = account.address
    account.address, account.moving_to, account.moving_since = new, None, None
    account.email_verified = True  # following the mailed link proved the mailbox
    try:
        db.session().flush()
    except IntegrityError:  # someone took the address in the same moment
        db.discard()
        raise MoveError(TAKEN) from None
    audit.record("account_moved", vhs=account.vhs.slug, sub=account.sub)
    signals.identifier_changed(account, old)
    current_app.logger.info("account moved at vhs %r", account.vhs.slug)
    return account
