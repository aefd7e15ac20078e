"""What the console, the diagnosis and the command line call things, in words for VHS staff.

The audit trail, the outbox and the adapters store fixed vocabulary (``login_failed``,
``not_released``, ``kufersql``, ``console:musterstadt/anna@…``); this module is the one
place that turns each of those words into German prose (English through Flask-Babel), and
times into Europe/Berlin in the pages' format. A word that has no label yet is shown with
its underscores as spaces, never as a code word.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import current_app, g
from flask_babel import format_date, format_datetime, get_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from ua_parser import parse

from adapters.base import ELIGIBLE, INACTIVE, NOT_LINKED, NOT_RELEASED, UNKNOWN

from . import db
from .acts import ACTS
from .identity import Via
from .models import Account, Client, ConsoleRole, Role, Status, Vhs

TIME_PATTERNS = {"de": "dd.MM.yyyy, HH:mm 'Uhr'", "en": "d MMM yyyy, HH:mm"}
DAY_PATTERNS = {"de": "dd.MM.yyyy", "en": "d MMM yyyy"}

KINDS = {
    "login": _l("Anmeldung"),
    "login_failed": _l("Anmeldung abgelehnt"),
    "logout": _l("Abmeldung"),
    "account_deleted": _l("Zugang gelöscht"),
    "leaving": _l("Zugang beendet: nicht mehr im Verwaltungsprogramm"),
    "leaving_ended": _l("wieder im Verwaltungsprogramm"),
    "account_left": _l("Zugang geschlossen: ausgeschieden"),
    "account_back": _l("Zugang wieder geöffnet: wieder im Verwaltungsprogramm"),
    "moving": _l("neue Adresse im Verwaltungsprogramm: Bestätigung per E-Mail erbeten"),
    "account_moved": _l("Zugang auf die neue Adresse umgezogen"),
    "lifecycle_braked": _l("Prüfung angehalten: zu viele wären auf einmal ausgeschieden"),
    "consent": _l("Einwilligung"),
    "throttled": _l("gebremst (zu viele Versuche)"),
    "code_replay": _l("Anmeldecode doppelt eingelöst"),
    "refresh_reuse": _l("Sitzungsschlüssel eines Dienstes doppelt benutzt"),
    "revocation": _l("Zugriff eines Dienstes entzogen"),
    "step_up": _l("zweiter Faktor nachgewiesen"),
    "mfa_change": _l("zweiter Faktor geändert"),
    "mfa_reset": _l("zweiter Faktor zurückgesetzt"),
    "portal_fallback": _l("Anmeldung ohne itm:PORTAL (Ausweichweg)"),
    "program_unavailable": _l("Verwaltungsprogramm nicht erreichbar"),
    "activation": _l("Zugang aktiviert"),
    "password_reset": _l("Passwort über den Link neu gesetzt"),
    "password_change": _l("Passwort geändert"),
    "access_request": _l("„Neuer Zugang“ angefragt"),
    "reset_request": _l("„Passwort vergessen“ angefragt"),
    "admin": _l("Einstellung geändert"),
    "mfa_policy": _l("Regel für den zweiten Faktor geändert"),
    "accounts_import": _l("Zugänge aus dem alten Login übernommen"),
    "password_upgraded": _l("Passwort aus dem alten Login übernommen"),
    "help_request": _l("um Hilfe gebeten"),
    "help_closed": _l("Hilfe-Anfrage abgeschlossen"),
    "help_digest": _l("tägliche Zusammenfassung an die Verwaltung verschickt"),
    "help_offer": _l("„Meine VHS um Hilfe bitten“ angefragt"),
}

REASONS = {
    # a refused sign-in (identity.Reason)
    "malformed": _l("keine gültige Eingabe"),
    "unknown_address": _l("Adresse unbekannt"),
    "wrong_password": _l("falsches Passwort"),
    "account_pending": _l("Zugang noch nicht aktiviert"),
    "account_disabled": _l("Zugang gesperrt"),
    "not_eligible": _l("vom Verwaltungsprogramm nicht freigegeben"),
    "portal_unavailable": _l("itm:PORTAL nicht erreichbar"),
    "legacy_login_unavailable": _l("alter Login nicht erreichbar"),
    "solved": _l("gelöst: die E-Mail zum Passwort ging von selbst hinaus"),
    "done": _l("erledigt"),
    "rejected": _l("abgelehnt"),
    "expired": _l("nach sieben Tagen ohne Änderung geschlossen"),
    "wrong_code": _l("falscher Code beim zweiten Schritt"),
    "passkey_refused": _l("Passkey nicht angenommen"),
    # what the Verwaltungsprogramm answered ("Neuer Zugang")
    ELIGIBLE: _l("berechtigt"),
    UNKNOWN: _l("im Verwaltungsprogramm nicht gefunden"),
    NOT_RELEASED: _l("„Im Internet anzeigen“ fehlt"),
    NOT_LINKED: _l("Verknüpfung in der Kursmanagement-APP fehlt"),
    INACTIVE: _l("im Verwaltungsprogramm nicht aktiv"),
    "no_adapter": _l("kein Verwaltungsprogramm angebunden"),
    # "Passwort vergessen"
    "itm:PORTAL": _l("Login des itm:PORTAL (dort zurücksetzen)"),
    "no_active_account": _l("kein aktiver Zugang"),
    "link": _l("Link gesendet"),
    "recently_sent": _l("Link schon gesendet (höchstens einmal am Tag)"),
    "moving": _l("zieht um: Link zum Bestätigen der neuen Adresse gesendet"),
    # what was slowed down
    "sign_in": _l("Anmeldung"),
    "second_step": _l("zweiter Schritt der Anmeldung"),
    "self_service": _l("„Neuer Zugang“, „Passwort vergessen“ oder „um Hilfe bitten“"),
    "client_authentication": _l("Anmeldung eines Dienstes"),
    # why an administrator deleted an account
    "left_vhs": _l("hat die VHS verlassen"),
    "asked_by_person": _l("auf Wunsch der Person"),
    "duplicate": _l("doppelter Zugang"),
    "other": _l("anderer Grund"),
    # other refusals
    "denied": _l("abgelehnt"),
    "unavailable": _l("nicht erreichbar"),
}

SOURCES = {
    Via.PASSWORD: _l("Passwort dieses Anmeldedienstes"),
    Via.PORTAL_PASSWORD: _l("Passwort des itm:PORTAL"),
    Via.PORTAL_OPENID: _l("Anmeldung über das itm:PORTAL"),
    Via.LINK: _l("Link aus der Mail"),
    Via.PASSKEY: _l("Passkey"),
    Via.SESSION: _l("bestehende Anmeldung"),
    "totp": _l("Authenticator-App"),
    "recovery": _l("Wiederherstellungscode"),
}

DETAILS = {
    "another device": _l("auf einem anderen Gerät"),
    "old login": _l("vom alten Login bestätigt"),
    "re-check": _l("die regelmäßige Prüfung des Anmeldedienstes"),
    "everywhere": _l("überall"),
    "by the person": _l("durch die Person selbst"),
    "inactive": _l("lange nicht angemeldet"),
    "left": _l("ausgeschieden"),
    "retention": _l("die Aufbewahrungsfrist"),
    "totp_added": _l("Authenticator-App eingerichtet"),
    "totp_removed": _l("Authenticator-App entfernt"),
    "passkey_added": _l("Passkey hinzugefügt"),
    "passkey_removed": _l("Passkey entfernt"),
    "reset": _l("alle zurückgesetzt"),
    "required": _l("jetzt verlangt"),
    "optional": _l("jetzt freiwillig"),
    # what a help request's re-check did ("Neuer Zugang" on the person's behalf)
    "activation": _l("Mail zum Aktivieren verschickt"),
    "already_active": _l("Zugang war schon aktiv"), "disabled": _l("gesperrt: keine Mail"),
    "portal_login": _l("Hinweis auf den Login des itm:PORTAL verschickt"),
    "not_registered": _l("Adresse im Verwaltungsprogramm nicht gefunden"),
}

CLAIMS = {  # what a service receives about a person (``idp.claims``), in words
    "sub": _l("Kennung (sub)"),
    "vhs": _l("VHS"),
    "vhs_name": _l("Name der VHS"),
    "email": _l("E-Mail-Adresse"),
    "email_verified": _l("ob die Adresse bestätigt ist"),
    "name": _l("Name"),
    "legacy_id": _l("bisherige vhsKOOP-Kennung"),
}

RETENTION = {  # the retention periods (``idp.retention.PERIODS``): what each limits
    "AUDIT_DAYS": _l("Protokolleinträge"),
    "AUDIT_IP_DAYS": _l("vollständige IP-Adressen im Protokoll (danach gekürzt)"),
    "SESSIONS_DAYS": _l("beendete Sitzungen, Tokens und Anmeldecodes; Antworten des "
                        "Verwaltungsprogramms"),
    "MAIL_DAYS": _l("zugestellte oder aufgegebene Mails"),
    "LOGOUT_NOTICE_DAYS": _l("zugestellte oder aufgegebene Abmeldenachrichten an Dienste"),
    "SSF_EVENT_DAYS": _l("Sicherheitsereignisse für Dienste (zugestellt oder nicht)"),
    "HELP_REQUEST_DAYS": _l("abgeschlossene Hilfe-Anfragen"),
    "PENDING_DAYS": _l("angefragte, nie aktivierte Zugänge"),
    "INACTIVE_DAYS": _l("Zugänge ohne Anmeldung"),
    "LEAVER_DELETE_DAYS": _l("Zugänge ausgeschiedener Personen, nach dem Schließen"),
}

MAILS = {
    "activation": _l("Link zum Passwort setzen"),
    "reset": _l("Link zum neuen Passwort"),
    "not_registered": _l("Hinweis: Adresse nicht gefunden"),
    "not_released": _l("Hinweis: „Im Internet anzeigen“ fehlt"),
    "not_linked": _l("Hinweis: Verknüpfung in der Kursmanagement-APP fehlt"),
    "already_active": _l("Hinweis: Zugang schon aktiv"),
    "portal_login": _l("Hinweis: Login des itm:PORTAL gilt"),
    "password_changed": _l("Passwort geändert"),
    "factors_changed": _l("zweiter Faktor geändert"),
    "wrong_codes": _l("Warnung: falsche Codes"),
    "source_switched": _l("Hinweis: Anmeldung jetzt über das itm:PORTAL"),
    "test": _l("Testmail"),
    "welcome": _l("Willkommen: Zugang aus dem alten Login übernommen"),
    "help_rejected": _l("Hilfe-Anfrage abgelehnt, mit Begründung"),
    "help_digest": _l("tägliche Zusammenfassung der Hilfe-Anfragen"),
    "help_link": _l("Link: Meine VHS um Hilfe bitten"),
    "inactive": _l("Hinweis: Zugang wird wegen fehlender Anmeldung geschlossen"),
    "moved": _l("Link: neue Adresse bestätigen"),
}

PROGRAMS = {"kufersql": "KuferSQL", "itm_manager": "itm:MANAGER",
            "kma": "Kursmanagement-APP", "itm_connect": "itm:CONNECT",
            "directory": _l("Benutzerliste aus dem Verwaltungsprogramm")}

SECURITY = {"none": _l("unverschlüsselt"), "starttls": "STARTTLS", "tls": "TLS"}

GRANTS = {"authorization_code": _l("Anmeldung im Browser (Code-Flow)"),
          "refresh_token": _l("angemeldet bleiben (Refresh-Token)"),
          "client_credentials": _l("Dienst zu Dienst (Client Credentials)")}

SCOPES = {"openid": _l("Anmeldung (openid)"), "profile": _l("Name (profile)"),
          "email": _l("E-Mail-Adresse (email)"),
          "offline_access": _l("Zugriff, während die Person nicht da ist (Refresh-Token)")}

SIGNALS = {  # the Shared Signals events (``idp.signals``), by the last part of their URI
    "session-revoked": _l("Sitzung beendet"), "credential-change": _l("Anmeldedaten geändert"),
    "account-disabled": _l("Zugang gesperrt oder ausgeschieden"),
    "account-enabled": _l("Zugang wieder offen"), "account-purged": _l("Zugang gelöscht"),
    "identifier-changed": _l("neue Adresse")}

KEY_STATES = {"current": _l("signiert"), "next": _l("als nächster veröffentlicht"),
              "retired": _l("nur noch zum Prüfen")}  # keys.keyring's states


def _words(value: str) -> str:
    return value.replace("_", " ")


def of(table: dict, value: str | None) -> str:
    """The label of ``value`` in ``table`` (the current language); "" for nothing."""
    if not value:
        return ""
    found = table.get(value)
    return str(found) if found is not None else _words(value)


def kind(value: str | None) -> str:
    """An audit event's kind in words."""
    return of(KINDS, value)


def reason(value: str | None) -> str:
    """An audit event's reason in words."""
    return of(REASONS, value)


def source(value: str | None) -> str:
    """How a person was confirmed, in words."""
    return of(SOURCES, value)


def mail(value: str | None) -> str:
    """What a mail was for, in words."""
    return of(MAILS, value)


def program(adapter: str | None) -> str:
    """The Verwaltungsprogramm's product name ("KuferSQL" for ``kufersql``)."""
    return of(PROGRAMS, adapter)


def detail(kind_value: str | None, value: str | None) -> str:
    """An event's detail in words: a factor change, a fixed phrase, an answer; free text
    (an error, a name) as it is. An administrator's act is the event's own words
    (``what``): no detail."""
    if not value or (kind_value == "admin" and value in ACTS):
        return ""
    if kind_value == "admin":
        return _words(value)
    if value.startswith("second factor: "):
        return str(_l("mit %(factor)s", factor=source(value.split(": ", 1)[1])))
    found = DETAILS.get(value, REASONS.get(value))
    return str(found) if found is not None else _words(value)


def what(event) -> str:
    """What happened: an administrator's act in its own words, any other by its kind."""
    if event.kind == "admin" and event.detail in ACTS:
        return str(ACTS[event.detail])
    return kind(event.kind)


def device(user_agent: str | None) -> str:
    """A browser in words: "Firefox auf Windows", "Mobile Safari auf iOS (iPhone)"."""
    found = parse(user_agent or "")
    browser = found.user_agent.family if found.user_agent else None
    system = found.os.family if found.os else None
    if found.device and found.device.family not in ("Other", "Mac", "Spider"):
        system = f"{system} ({found.device.family})" if system else found.device.family
    if browser and system:
        return gettext("%(browser)s auf %(system)s", browser=browser, system=system)
    return browser or system or gettext("unbekanntes Gerät")


def leaver(account: Account) -> str:
    """Where a leaver or a mover stands, in words; "" for anyone else: "ausgeschieden seit
    …, wird am … gelöscht", "zieht um: …", or "verlässt die VHS: das Verwaltungsprogramm
    sagt seit … nein"."""
    if account.status == Status.LEFT and account.left_at:
        deleted = account.left_at + current_app.config["LEAVER_DELETE_DAYS"] * 86400
        return gettext("ausgeschieden seit %(since)s, wird am %(deleted)s gelöscht",
                       since=moment(account.left_at), deleted=moment(deleted))
    if account.moving_to:
        return gettext("zieht um: das Verwaltungsprogramm führt die Person seit %(since)s "
                       "unter %(address)s; die Bestätigung per E-Mail steht aus",
                       since=moment(account.moving_since), address=account.moving_to)
    if account.leaving_since:
        return gettext("verlässt die VHS: das Verwaltungsprogramm sagt seit %(since)s nein",
                       since=moment(account.leaving_since))
    return ""


def day(seconds: int | None) -> str:
    """A day in Europe/Berlin, the pages' way: "28.11.2026"."""
    if not seconds:
        return ""
    at = datetime.fromtimestamp(seconds, timezone.utc)
    return format_date(at, DAY_PATTERNS.get(str(get_locale()), DAY_PATTERNS["de"]))


def moment(seconds: int | None) -> str:
    """A moment in Europe/Berlin, the pages' way: "28.11.2026, 09:41 Uhr"."""
    if not seconds:
        return ""
    at = datetime.fromtimestamp(seconds, timezone.utc)
    return format_datetime(at, TIME_PATTERNS.get(str(get_locale()), TIME_PATTERNS["de"]))


def _once(key: tuple, read):
    """``read()``, once per request (or command) for ``key``: a page of 50 events by the
    same administrator asks the database once, not 50 times."""
    found = g.setdefault("idp_labels_read", {})
    if key not in found:
        found[key] = read()
    return found[key]


def _named(model, key, column, value: str | None) -> str:
    """The name of a VHS or service stored by its id, read once per request."""
    if not value:
        return ""
    row = _once((model, value), lambda: db.session().execute(
        select(model).where(key == value)).scalar())
    return getattr(row, column) if row is not None else value


def service(client_id: str | None) -> str:
    """A relying party by the name people read ("itm:FEEDBACK"), not its client id."""
    return _named(Client, Client.client_id, "name", client_id)


def vhs_name(slug: str | None) -> str:
    """A VHS by its name ("vhs Musterstadt"), not its slug."""
    return _named(Vhs, Vhs.slug, "name", slug)


def actor(value: str | None) -> str:
    """Who did it: "Anna Muster, Administratorin der vhs Straubing" for a console actor,
    "ITEM-Betrieb" for an operator, "Kommandozeile" for a command."""
    if not value:
        return ""
    if value.startswith("cli:"):
        return str(_l("Kommandozeile"))
    if not value.startswith("console:"):
        return of(DETAILS, value)
    slug, _, address = value[len("console:"):].partition("/")
    row = _once(("actor", value), lambda: db.session().execute(
        select(Account.display_name, Vhs.name, ConsoleRole.role)
        .join(Vhs, Account.vhs_id == Vhs.id)
        .outerjoin(ConsoleRole, ConsoleRole.account_id == Account.id)
        .where(Vhs.slug == slug, Account.address == address)).first())
    if row is None:
        return str(_l("eine Administratorin oder ein Administrator (%(address)s)",
                      address=address))
    name = row.display_name or address
    if row.role == Role.OPERATOR:
        return str(_l("%(name)s, ITEM-Betrieb", name=name))
    return str(_l("%(name)s, Administration der %(vhs)s", name=name, vhs=row.name))


def acted_by(event) -> str:
    """Who acted, as the event stored it at the time ("Anna Muster, Administration der vhs
    Straubing", "…, ITEM-Betrieb", "Kommandozeile (anna)"), or that the role is unknown."""
    if not event.actor:
        return ""
    role, name = event.actor_role, event.actor_name
    if role == "cli":
        return str(_l("Kommandozeile (%(user)s)", user=name) if name else _l("Kommandozeile"))
    if not event.actor.startswith("console:") or not name:
        return actor(event.actor)
    if role == Role.OPERATOR:
        return str(_l("%(name)s, ITEM-Betrieb", name=name))
    if role == Role.ADMIN:
        return str(_l("%(name)s, Administration der %(vhs)s", name=name, vhs=event.actor_vhs))
    return str(_l("%(name)s, %(vhs)s (Rolle damals nicht gespeichert)", name=name,
                  vhs=event.actor_vhs or ""))


def filters() -> dict:
    """The template filters, by name."""
    return {"kind_label": kind, "reason_label": reason, "source_label": source,
            "mail_label": mail, "program_label": program, "actor_label": actor,
            "acted_by": acted_by, "what": what,
            "security_label": lambda value: of(SECURITY, value),
            "grant_label": lambda value: of(GRANTS, value),
            "scope_label": lambda value: of(SCOPES, value),
            "claim_label": lambda value: of(CLAIMS, value),
            "leaver_state": leaver,
            "key_state_label": lambda value: of(KEY_STATES, value),
            "signal_label": lambda uri: of(SIGNALS, uri.rsplit("/", 1)[-1])}
