"""The record of processing activities (GDPR Art. 30) and the privacy notice, made from the
running configuration and the models, never written by hand.

``record(vhs)`` builds the record of one VHS (or, without one, of the installation): who is
responsible, the purposes, the categories of persons and of data (``DATA``: every table
that holds personal data, checked against the models by the tests), the recipients (each
registered service with the claims its scopes release, the VHS's mail server, its
Verwaltungsprogramm and what the adapter reads, its itm:PORTAL), transfers to third
countries, the retention periods in force (``idp.retention``) and the technical and
organisational measures as configured. ``vhskoop-idp privacy record``, the console's
"Verzeichnis der Verarbeitungstätigkeiten" and ``/datenschutz`` show it.

The controller's and the data protection officer's contacts come from IDP_PRIVACY_CONTROLLER
and IDP_PRIVACY_DPO; a VHS may enter its own (``vhskoop-idp vhs set-privacy``, the console).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from . import claims, db, labels, mail, retention
from .models import Account, Client, ConsoleRole, Status, Vhs, now

CONTACT_LIMIT = 500  # characters of one contact (name, postal address, mail, phone)

# Every table that holds personal data: its category and what it holds (the tests check
# that each table of the models is here or in NOT_PERSONAL).
DATA = {
    "accounts": (_l("Zugang"), _l("E-Mail-Adresse, Name, Kennung für die Dienste (sub), "
                                  "bisherige vhsKOOP-Kennung, Passwort als Argon2id-Hash, "
                                  "Zeitpunkte (angelegt, zuletzt angemeldet)")),
    "totp_factors": (_l("Zweiter Faktor"), _l("Schlüssel der Authenticator-App, "
                                              "versiegelt")),
    "passkeys": (_l("Zweiter Faktor"), _l("öffentlicher Schlüssel und Name jedes Passkeys")),
    "recovery_codes": (_l("Zweiter Faktor"), _l("Wiederherstellungscodes als Hash")),
    "sso_sessions": (_l("Sitzungen"), _l("Browserkennung, gekürztes Netz (/24, /48), "
                                         "Zeitpunkte")),
    "tokens": (_l("Nutzung der Dienste"), _l("Tokens als Hash, erlaubter Umfang, "
                                             "Zeitpunkte")),
    "authorization_codes": (_l("Nutzung der Dienste"), _l("Anmeldecodes als Hash, Umfang, "
                                                          "Zeitpunkte")),
    "consents": (_l("Nutzung der Dienste"), _l("Einwilligungen: Dienst, Umfang, Zeitpunkt")),
    "account_tokens": (_l("Mails"), _l("Links zum Aktivieren und Zurücksetzen als Hash")),
    "outbox": (_l("Mails"), _l("Empfänger, Art, Betreff und Inhalt, Zustellung")),
    "logout_deliveries": (_l("Nutzung der Dienste"), _l("Abmeldenachrichten an Dienste: "
                                                        "Kennung (sub), Sitzung")),
    "ssf_events": (_l("Nutzung der Dienste"), _l("Sicherheitsereignisse für Dienste, die "
                                                 "Tokens für die Person hatten: Kennung "
                                                 "(sub), Art, Zeitpunkt; bei einer neuen "
                                                 "Adresse die alte und die neue")),
    "ssf_removed_subjects": (_l("Nutzung der Dienste"), _l("Kennungen (sub), über die ein "
                                                           "Dienst nichts hören will")),
    "help_requests": (_l("Hilfe-Anfragen"), _l("E-Mail-Adresse, Nachricht der Person, "
                                               "Diagnose, Bearbeitung")),
    "eligibility_checks": (_l("Berechtigung"), _l("E-Mail-Adresse, die letzte Antwort des "
                                                  "Verwaltungsprogramms und die Kennung der "
                                                  "Person dort")),
    "directory_entries": (_l("Berechtigung"), _l("die vom Verwaltungsprogramm übertragene "
                                                 "Benutzerliste: Adresse, Name, Kennung, "
                                                 "freigegeben, aktiv")),
    "kma_links": (_l("Berechtigung"), _l("E-Mail-Adressen, die ITEM in der "
                                         "Kursmanagement-APP verknüpft hat")),
    "console_roles": (_l("Verwaltung"), _l("Rolle in der Verwaltung, wer sie vergab, "
                                           "tägliche Zusammenfassung")),
    "audit_events": (_l("Protokoll"), _l("Ereignis, Zeitpunkt, Kennung (sub) oder "
                                         "nicht umkehrbares Kürzel (HMAC) der Adresse, Dienst, "
                                         "IP-Adresse, wer handelte (Name, Rolle und VHS zur "
                                         "Zeit der Handlung)")),
}
NOT_PERSONAL = ("vhs", "clients", "lifecycle_leases", "ssf_streams", "alembic_version")

PURPOSES = (
    _l("Anmeldung der Beschäftigten und Kursleitenden der VHS an den angeschlossenen "
       "Diensten mit einem Zugang (Single Sign-on nach OpenID Connect)"),
    _l("Prüfung beim Verwaltungsprogramm der VHS, ob eine Adresse zu einer berechtigten "
       "Person gehört"),
    _l("Mails zum Aktivieren, zum Zurücksetzen des Passworts und über Änderungen an der "
       "Sicherheit des Zugangs"),
    _l("Hilfe für Personen, die nicht hineinkommen: Hilfe-Anfragen und Diagnose durch ihre "
       "VHS"),
    _l("Schutz vor Missbrauch: Protokoll, Bremsen bei Fehlversuchen, zweiter Faktor"),
)

ADAPTER_READS = _l("erhält die eingegebene E-Mail-Adresse; antwortet, ob die Person dort "
                   "bekannt, im Internet freigegeben und aktiv ist, mit ihrer Kennung und "
                   "ihrem Namen im Programm")


@dataclass(frozen=True)
class Table:
    """A table of the record: its column heads and rows, all words."""

    head: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass(frozen=True)
class Section:
    """One heading of the record: lines (shown as a list) and an optional table."""

    title: str
    lines: list[str] = field(default_factory=list)
    table: Table | None = None


@dataclass(frozen=True)
class Record:
    """The record of processing activities of one VHS, or of the installation."""

    title: str
    subject: str  # the VHS's name, or the installation's issuer
    made_at: int
    sections: list[Section]


@dataclass(frozen=True)
class Contacts:
    """Who is responsible and whom to ask: as entered, or "" when nobody entered them."""

    controller: str
    dpo: str


def contacts(vhs: Vhs | None) -> Contacts:
    """The VHS's own contacts where it entered them, else the installation's."""
    config = current_app.config
    return Contacts(
        (vhs.privacy_controller if vhs is not None else None) or config["PRIVACY_CONTROLLER"],
        (vhs.privacy_dpo if vhs is not None else None) or config["PRIVACY_DPO"])


class ContactError(ValueError):
    """A contact that cannot be stored; the message says why (in words for the console)."""


def set_contacts(vhs: Vhs, controller: str, dpo: str) -> None:
    """Enter the VHS's own contacts (empty: the installation's apply)."""
    for value in (controller, dpo):
        if len(value) > CONTACT_LIMIT:
            raise ContactError(_("Höchstens %(limit)s Zeichen.", limit=CONTACT_LIMIT))
        if "\x00" in value:
            raise ContactError(_("Bitte nur Text eingeben."))
    vhs.privacy_controller = controller.strip() or None
    vhs.privacy_dpo = dpo.strip() or None


def record(vhs: Vhs | None = None) -> Record:
    """The record of processing activities, as configured now."""
    config = current_app.config
    who = contacts(vhs)
    missing = _("noch nicht eingetragen")
    sections = [
        Section(_("Verantwortlicher und Datenschutzbeauftragte"), [
            _("Verantwortlich: %(who)s", who=who.controller or missing),
            _("Datenschutzbeauftragte oder Datenschutzbeauftragter: %(who)s",
              who=who.dpo or missing),
            _("Verarbeitung: Anmeldedienst vhsKOOP unter %(issuer)s",
              issuer=config["ISSUER"]),
        ]),
        Section(_("Zwecke der Verarbeitung"), [str(purpose) for purpose in PURPOSES]),
        Section(_("Kategorien betroffener Personen"), _persons(vhs)),
        Section(_("Kategorien personenbezogener Daten"), table=Table(
            (_("Kategorie"), _("Daten")), [(kind, "; ".join(items))
                                           for kind, items in _kinds().items()])),
        Section(_("Empfänger"), table=Table((_("Empfänger"), _("erhält")),
                                             _recipients(vhs))),
        Section(_("Übermittlung in Drittländer"), [
            _("Keine. Die Daten bleiben beim Betreiber dieses Dienstes; Empfänger sind nur "
              "die oben genannten.")]),
        Section(_("Löschfristen"), table=Table(
            (_("Daten"), _("gelöscht"), _("Einstellung")),
            [(labels.of(labels.RETENTION, name), _period(name, days), f"IDP_{name}")
             for name, days in retention.periods().items()])),
        Section(_("Technische und organisatorische Maßnahmen"), _measures(vhs)),
    ]
    return Record(_("Verzeichnis der Verarbeitungstätigkeiten"),
                  vhs.name if vhs is not None else config["ISSUER"], now(), sections)


def notice(vhs: Vhs | None = None) -> Record:
    """The privacy notice ("Datenschutzhinweise") for the people who sign in: the same
    facts as the record, in plain words, and their rights."""
    who = contacts(vhs)
    missing = _("noch nicht eingetragen; fragen Sie Ihre VHS")
    sections = [
        Section(_("Wer verantwortlich ist"), [
            _("Verantwortlich: %(who)s", who=who.controller or missing),
            _("Datenschutzbeauftragte oder Datenschutzbeauftragter: %(who)s",
              who=who.dpo or missing),
        ]),
        Section(_("Wozu Ihre Daten verarbeitet werden"), [str(p) for p in PURPOSES]),
        Section(_("Welche Daten"), [f"{kind}: {'; '.join(items)}"
                                     for kind, items in _kinds().items()]),
        Section(_("Wer sie erhält"), [f"{name}: {what}" for name, what in _recipients(vhs)]),
        Section(_("Wie lange sie bleiben"), [
            f"{labels.of(labels.RETENTION, name)}: {_period(name, days)}"
            for name, days in retention.periods().items()]),
        Section(_("Übermittlung in Drittländer"), [_("Keine.")]),
        Section(_("Ihre Rechte"), [
            _("Auskunft und Kopie (Art. 15 und 20 DSGVO): unter „Mein Zugang“ → „Meine Daten“ "
              "sehen Sie alles, was hier über Sie gespeichert ist, und laden es herunter."),
            _("Löschung (Art. 17): unter „Mein Zugang“ → „Zugang löschen“, oder bei Ihrer VHS."),
            _("Berichtigung (Art. 16): Ihre Adresse und Ihr Name kommen aus dem "
              "Verwaltungsprogramm Ihrer VHS; Ihre VHS berichtigt sie dort."),
            _("Einschränkung und Widerspruch (Art. 18 und 21): bei den oben Genannten."),
            _("Beschwerde bei einer Datenschutz-Aufsichtsbehörde (Art. 77), zum Beispiel der "
              "Ihres Bundeslandes."),
        ]),
    ]
    return Record(_("Datenschutzhinweise"), vhs.name if vhs is not None else _("vhsKOOP"),
                  now(), sections)


def _kinds() -> dict[str, list[str]]:
    """The categories of data, each with what it holds (``DATA`` by category)."""
    kinds: dict[str, list[str]] = {}
    for kind, what in DATA.values():
        kinds.setdefault(str(kind), []).append(str(what))
    return kinds


def _period(name: str, days: int) -> str:
    if name == "INACTIVE_DAYS" and not days:
        return _("nie (abgeschaltet)")
    if not days:
        return _("beim nächsten Durchlauf")
    return _("nach %(days)s Tagen", days=days)


def _persons(vhs: Vhs | None) -> list[str]:
    session = db.session()
    accounts = select(func.count()).select_from(Account).where(Account.status == Status.ACTIVE)
    admins = select(func.count()).select_from(ConsoleRole).join(Account)
    if vhs is not None:
        accounts = accounts.where(Account.vhs_id == vhs.id)
        admins = admins.where(Account.vhs_id == vhs.id)
    return [
        _("Beschäftigte und Kursleitende der VHS, die sich anmelden (zurzeit %(count)s "
          "aktive Zugänge)", count=session.scalar(accounts)),
        _("Personen, die einen Zugang anfragen oder um Hilfe bitten"),
        _("Administratorinnen und Administratoren in der Verwaltung (zurzeit %(count)s)",
          count=session.scalar(admins)),
    ]


def _recipients(vhs: Vhs | None) -> list[tuple[str, str]]:
    rows = []
    for client in db.session().scalars(select(Client).order_by(Client.client_id)):
        scoped = claims.released_by(client.scope)
        what = ", ".join(str(labels.CLAIMS[name]) for name in labels.CLAIMS if name in scoped
                         and (name != "legacy_id" or client.release_legacy_id)) or "–"
        if client.backchannel_logout_uri:
            what += "; " + _("Abmeldenachrichten (Kennung und Sitzung)")
        rows.append((_("Dienst %(name)s", name=client.name), what))
    places = [vhs] if vhs is not None else list(db.session().scalars(
        select(Vhs).where(Vhs.onboarded.is_(True)).order_by(Vhs.slug)))
    if vhs is None:
        rows.append((_("der Mailserver jeder VHS"), _("Mails an die Personen dieser VHS")))
        adapters = sorted({place.adapter for place in places if place.adapter})
        if adapters:
            rows.append((_("das Verwaltungsprogramm jeder VHS (%(programs)s)", programs=", ".join(
                labels.program(name) for name in adapters)), str(ADAPTER_READS)))
        portals = sum(1 for place in places if place.portal_config or place.upstream_config)
        if portals:
            rows.append((_("das itm:PORTAL von %(count)s VHS", count=portals),
                         _("E-Mail-Adresse und Passwort zur Prüfung bei der Anmeldung")))
        return rows
    server = mail.settings_of(vhs)
    rows.append((_("Mailserver der VHS (%(host)s)", host=server.host) if server
                 else _("Mailserver der VHS (noch nicht eingetragen)"),
                 _("Mails an die Personen dieser VHS")))
    if vhs.adapter:
        rows.append((_("Verwaltungsprogramm der VHS (%(program)s)",
                       program=labels.program(vhs.adapter)), str(ADAPTER_READS)))
    if vhs.portal_config or vhs.upstream_config:
        rows.append((_("itm:PORTAL der VHS"),
                     _("E-Mail-Adresse und Passwort zur Prüfung bei der Anmeldung")))
    return rows


def _measures(vhs: Vhs | None) -> list[str]:
    config = current_app.config
    tls = config["ISSUER"].startswith("https://")
    lines = [
        _("Passwörter nur als Argon2id-Hash (Zeitaufwand %(t)s, Speicher %(m)s KiB, "
          "Parallelität %(p)s); eingegebene Passwörter werden weder gespeichert noch "
          "protokolliert", t=config["ARGON2_TIME_COST"], m=config["ARGON2_MEMORY_COST"],
          p=config["ARGON2_PARALLELISM"]),
        _("Verbindungen nur über TLS (HTTPS, HSTS)") if tls else
        _("Achtung: ohne TLS (Adresse des Dienstes beginnt mit http://); nur für "
          "Entwicklung und Vorführung"),
        _("Signierschlüssel verschlüsselt gespeichert") if config["KEYS_PASSPHRASE"] else
        _("Signierschlüssel unverschlüsselt gespeichert (IDP_KEYS_PASSPHRASE ist nicht "
          "gesetzt); nur der Dienst kann sie lesen (Dateirechte 0600)"),
        _("Zugangsdaten zu Mailserver, Verwaltungsprogramm und itm:PORTAL versiegelt "
          "gespeichert (Fernet)"),
        _("IP-Adressen im Protokoll nach %(days)s Tagen gekürzt (/24, /48); Sitzungen "
          "speichern nur das gekürzte Netz", days=config["AUDIT_IP_DAYS"]),
        _("Protokoll aller Anmeldungen, Ablehnungen und Verwaltungsakte, %(days)s Tage "
          "lang; eingegebene Adressen ohne Zugang nur als nicht umkehrbares Kürzel (HMAC)",
          days=config["AUDIT_DAYS"]),
        _("Bremsen bei Fehlversuchen je Adresse, je IP-Adresse und je Zugang (IDP_THROTTLE_*); "
          "gleiche Antwort und gleiche Dauer für bekannte und unbekannte Adressen"),
    ]
    if vhs is not None:
        lines.append(_("Zweiter Faktor für alle Zugänge der VHS verlangt") if vhs.mfa_required
                     else _("Zweiter Faktor freiwillig (Authenticator-App oder Passkey); "
                            "Dienste können ihn verlangen"))
    strict = list(db.session().scalars(select(Client).where(Client.require_mfa.is_(True))))
    if strict:
        lines.append(_("Zweiter Faktor verlangt von: %(services)s",
                       services=", ".join(client.name for client in strict)))
    return lines


def markdown(made: Record) -> str:
    """The record as Markdown."""
    out = [f"# {made.title}: {made.subject}", "",
           _("Stand: %(when)s; erzeugt aus der laufenden Konfiguration.",
             when=labels.moment(made.made_at)), ""]
    for section in made.sections:
        out += [f"## {section.title}", ""]
        out += [f"- {_line(line)}" for line in section.lines]
        if section.lines:
            out.append("")
        if section.table is not None:
            out.append("| " + " | ".join(section.table.head) + " |")
            out.append("|" + "---|" * len(section.table.head))
            out += ["| " + " | ".join(_line(cell).replace("|", "\\|") for cell in row) + " |"
                    for row in section.table.rows]
            out.append("")
    return "\n".join(out)


def _line(text: str) -> str:
    return " ".join(str(text).split())

