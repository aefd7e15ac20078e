"""The mails the provider sends to people, by kind: subject, template and link.

Each goes through the outbox of the person's VHS (``mail.enqueue``), in the caller's
transaction, at most once per kind, VHS and address within IDP_MAIL_INTERVAL_SECONDS.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import LazyString, lazy_gettext

from adapters.address import clean, is_plausible

from . import labels, mail, portals
from .models import Account, OutboxMail, Vhs

SUBJECTS = {
    "activation": lazy_gettext("Ihr Zugang zum Kooperationsportal vhsKOOP"),
    "already_active": lazy_gettext("Ihr Zugang zum Kooperationsportal vhsKOOP besteht bereits"),
    "not_released": lazy_gettext("Ihr Zugang zum Kooperationsportal vhsKOOP: noch nicht "
                                 "freigegeben"),
    "not_linked": lazy_gettext("Ihr Zugang zum Kooperationsportal vhsKOOP: Verknüpfung fehlt"),
    "not_registered": lazy_gettext("Ihr Zugang zum Kooperationsportal vhsKOOP: Adresse nicht "
                                   "hinterlegt"),
    "reset": lazy_gettext("Neues Passwort für das Kooperationsportal vhsKOOP"),
    "password_changed": lazy_gettext("Ihr Passwort für das Kooperationsportal vhsKOOP wurde "
                                     "geändert"),
    "test": lazy_gettext("Test-E-Mail des Kooperationsportals vhsKOOP"),
    "portal_login": lazy_gettext("Ihr Zugang zum Kooperationsportal vhsKOOP: Ihr "
                                 "itm:PORTAL-Login"),
    "source_switched": lazy_gettext("Kooperationsportal vhsKOOP: Anmeldung jetzt mit Ihrem "
                                    "itm:PORTAL-Login"),
    "factors_changed": lazy_gettext("Kooperationsportal vhsKOOP: Ihr zweiter Faktor wurde "
                                    "geändert"),
    "wrong_codes": lazy_gettext("Kooperationsportal vhsKOOP: Anmeldeversuch mit Ihrem "
                                "Passwort"),
    "welcome": lazy_gettext("Kooperationsportal vhsKOOP: Ihre Anmeldung zieht um"),
    "help_rejected": lazy_gettext("Ihre Hilfe-Anfrage zum Kooperationsportal vhsKOOP"),
    "help_link": lazy_gettext("Kooperationsportal vhsKOOP: Ihre VHS um Hilfe bitten"),
    "inactive": lazy_gettext("Kooperationsportal vhsKOOP: Ihr Zugang wird geschlossen"),
    "moved": lazy_gettext("Kooperationsportal vhsKOOP: Ihre Adresse hat sich geändert: jetzt "
                          "bestätigen"),
    "help_digest": lazy_gettext("Kooperationsportal vhsKOOP: Hilfe-Anfragen und "
                                "fehlgeschlagene Zugänge"),
}
FACTOR_CHANGES = {
    "totp_added": lazy_gettext("Eine Authenticator-App wurde als zweiter Faktor eingerichtet."),
    "totp_removed": lazy_gettext("Die Authenticator-App wurde als zweiter Faktor entfernt."),
    "passkey_added": lazy_gettext("Ein Passkey oder Sicherheitsschlüssel wurde hinzugefügt."),
    "passkey_removed": lazy_gettext("Ein Passkey oder Sicherheitsschlüssel wurde entfernt."),
    "reset": lazy_gettext("Die Verwaltung Ihrer VHS hat alle zweiten Faktoren und "
                          "Wiederherstellungscodes Ihres Zugangs zurückgesetzt. Bei der "
                          "nächsten Anmeldung richten Sie einen neuen ein."),
}
PORTAL_RESET = lazy_gettext("Passwort vergessen im itm:PORTAL")


def send(vhs: Vhs, address: str, kind: str, locale: str = "de", expires_at: int | None = None,
         interval: int | None = None, **values) -> OutboxMail | None:
    """Queue the mail ``kind`` for ``address``; None when one went out recently.

    ``expires_at``: when the link in it stops working (then it is no longer sent);
    ``interval``: at most one such mail in this time (IDP_MAIL_INTERVAL_SECONDS)."""
    return mail.enqueue(vhs, address, kind, SUBJECTS[kind], locale, expires_at, interval,
                        **values)


def not_registered(vhs: Vhs, address: str, locale: str, help_link: str | None = None) -> None:
    """Tell the mailbox owner that the program does not know the address for access here,
    with the help page's checklist: at most once a day per VHS and address. Nothing of the
    request goes into it (the address is where it goes)."""
    send(vhs, address, "not_registered", locale, interval=86400, help_link=help_link,
         link=issuer_link("/hilfe"), link_label=lazy_gettext("Hilfe bei der Anmeldung"))


def issuer_link(path: str) -> str:
    """A link to one of our pages, built from the issuer (never from the Host header)."""
    return current_app.config["ISSUER"] + path


def portal_login(vhs: Vhs, address: str, reset_url: str, locale: str) -> None:
    """Rule 3 of the help page: an itm:PORTAL login is used here too, no second account."""
    send(vhs, address, "portal_login", locale, link=reset_url, link_label=PORTAL_RESET)


def source_switched(account: Account) -> None:
    """Tell the person once that their itm:PORTAL login now counts, not our password."""
    portal = portals.portal_for(account.vhs)
    send(account.vhs, account.address, "source_switched", "de",
         link=portal.password_reset_url(account.address) if portal else None,
         link_label=PORTAL_RESET)


def password_changed(account: Account, locale: str) -> None:
    """Tell the person that their password was changed (by a reset or on /account)."""
    send(account.vhs, account.address, "password_changed", locale,
         link=issuer_link("/passwort-vergessen"),
         link_label=lazy_gettext("Passwort vergessen"))


def factors_changed(account: Account, what: str, by: str | None = None) -> None:
    """Tell the person that a second factor was added, removed or reset (every time);
    ``by``: the administrator who did it (an audit actor), named in the mail."""
    send(account.vhs, account.address, "factors_changed", "de", interval=0,
         change=FACTOR_CHANGES[what], link=issuer_link("/account"),
         link_label=lazy_gettext("Ihr Zugang"),
         by=LazyString(labels.actor, by) if by and by.startswith("console:") else
         (lazy_gettext("ITEM") if by else None))


def wrong_codes(account: Account) -> None:
    """Someone typed the right password and then too many wrong codes: the password is
    known to them. Tell the person, at most once a day."""
    send(account.vhs, account.address, "wrong_codes", "de", interval=86400,
         link=issuer_link("/passwort-vergessen"), link_label=lazy_gettext("Passwort vergessen"))


def inactive(account: Account, closing_at: int, since: int) -> None:
    """Tell the person that their account will be closed at ``closing_at`` because nobody
    signed in to it since ``since``, and that a sign-in keeps it."""
    send(account.vhs, account.address, "inactive", "de", interval=0,
         closing=LazyString(labels.day, closing_at), since=LazyString(labels.day, since),
         link=issuer_link("/account"), link_label=lazy_gettext("Anmelden und Zugang behalten"))


def moved(account: Account, new: str, url: str, expires_at: int) -> None:
    """Ask the person, at the address the program now has for them, to confirm it
    (``idp.movers``)."""
    send(account.vhs, new, "moved", "de", expires_at=expires_at, interval=0,  # each link
         old=account.address, days=current_app.config["MOVE_TTL"] // 86400 or 1, link=url,
         link_label=lazy_gettext("Neue Adresse bestätigen"))


def send_test(vhs: Vhs, typed_address: str) -> tuple[str, str]:
    """Send a test mail through the VHS's server now; the address and the server's host.

    Raises ValueError for an address that is none, mail.MailSettingsError without
    settings, mail.DialogueFailed naming the step of the SMTP dialogue that failed.
    """
    address = clean(typed_address).value
    if not is_plausible(address):
        raise ValueError(f"not an e-mail address: {typed_address!r}")
    host = mail.send_now(vhs, mail.render(vhs, address, "test", SUBJECTS["test"]))
    return address, host
