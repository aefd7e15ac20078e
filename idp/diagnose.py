"""``vhskoop-idp diagnose`` and the console's "Warum kommt jemand nicht rein?": the help
page's troubleshooting for one VHS and address.

Runs every check the help page lists and says which one fails: VHS onboarded, adapter
reachable, address found as typed or only after cleaning (naming each removed or
look-alike character with code point and position, in the typed and in the stored
address), user active, "Im Internet anzeigen" set, KMA link present, itm:PORTAL login,
local account, mail settings and the last mails. Each failing check says what the VHS
must change. The texts are German with an English translation (the command prints
English); the screen answers of the login and access pages never say any of this.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from adapters.address import CleanAddress, clean, is_plausible
from adapters.base import INACTIVE, NOT_LINKED, NOT_RELEASED, AdapterUnavailable, Decision

from . import accounts, db, eligibility, factors, labels, portals
from .connectors import PortalUnavailable
from .models import OutboxMail, Status, Vhs

NOT_RELEASED_MESSAGE = "Der Login wurde nicht für den Außenstellen Login freigegeben."
# Letters of other scripts that look like Latin ones (a pasted address can carry them).
LOOKALIKES = {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x",
              "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ο": "o", "α": "a",
              "ν": "v", "ι": "i", "κ": "k", "ѵ": "v", "ɡ": "g", "ı": "i"}

MARKS = {True: "[ok]  ", False: "[FAIL]", None: "[info]"}
TYPED = _l("der eingegebenen Adresse")
STORED = _l("der gespeicherten Adresse")
IMPORTED = _l("der Adresse in der Datei")
STATES = {Status.ACTIVE: _l("aktiv"), Status.PENDING: _l("wartet auf die Aktivierung"),
          Status.DISABLED: _l("gesperrt"), Status.LEFT: _l("ausgeschieden")}
# the people listing's filters (``accounts.people``): the states, leavers and movers
FILTERS = {**STATES, accounts.LEAVING: _l("verlässt die VHS (Programm sagt nein)"),
           accounts.MOVING: _l("zieht um (neue Adresse im Programm)")}


@dataclass(frozen=True)
class Finding:
    """One check: passed (True), failed (False) or for information (None); what the VHS
    must change when it fails; the address concerned with its odd characters marked."""

    ok: bool | None
    message: object  # a lazy German text with %(name)s places
    values: dict = field(default_factory=dict)
    advice: object | None = None
    shown: str | None = None

    @classmethod
    def kept(cls, ok: bool | None, text: str, advice: str | None = None) -> Finding:
        """A finding as it was kept (a help request's diagnosis): its words as they were."""
        return cls(ok, text, advice=advice)

    @property
    def text(self) -> str:
        """The text in the current language."""
        if not self.values:  # a kept finding's words, or a message without places
            return str(self.message)
        return str(self.message) % {key: str(value) for key, value in self.values.items()}

    @property
    def mark(self) -> str:
        """"[ok]  ", "[FAIL]" or "[info]": how the command line (and a help request) marks it."""
        return MARKS[self.ok]

    def line(self) -> str:
        """As printed: a mark, then the text (and what to do)."""
        return f"{self.mark} {self.text}" + (f" - {self.advice}" if self.advice else "")


class Joined:
    """Lazy texts joined by "; ", rendered in the language of the moment they are read."""

    def __init__(self, parts: list):
        self.parts = parts

    def __str__(self) -> str:
        return "; ".join(str(part) for part in self.parts)


# The invisible characters a pasted address brings most often, in words; any other is
# named by its Unicode name.
CHARACTERS = {" ": _l("ein Leerzeichen"), "\u00a0": _l("ein geschütztes Leerzeichen"),
              "\u202f": _l("ein schmales geschütztes Leerzeichen"),
              "\u200b": _l("ein Leerzeichen ohne Breite"),
              "\u200c": _l("ein Bindungsverhinderer ohne Breite"),
              "\u200d": _l("ein Verbinder ohne Breite"), "\u2060": _l("ein Wortverbinder"),
              "\ufeff": _l("eine Byte-Reihenfolge-Markierung (BOM)"),
              "\u00ad": _l("ein weicher Trennstrich"), "\t": _l("ein Tabulator"),
              "\n": _l("ein Zeilenumbruch"), "\r": _l("ein Wagenrücklauf")}
SCRIPTS = {"CYRILLIC": _l("ein kyrillischer Buchstabe"), "GREEK": _l("ein griechischer "
                                                                  "Buchstabe")}


def _odd(cleaned: CleanAddress, original: str, which) -> list:
    """Every removed and look-alike character of an address, in words: „ein geschütztes
    Leerzeichen (U+00A0) an Stelle 5 der eingegebenen Adresse“."""
    parts = [_l("%(name)s (%(code)s) an Stelle %(position)s %(which)s") % {
        "code": r.codepoint, "name": CHARACTERS.get(r.char, r.name),
        "position": r.position, "which": which} for r in cleaned.removed]
    for position, char in enumerate(original, start=1):
        if char in LOOKALIKES:
            script = unicodedata.name(char, "?").split(" ", 1)[0]
            parts.append(_l("%(name)s (%(code)s), der wie „%(latin)s“ aussieht, an Stelle "
                            "%(position)s %(which)s") % {
                "code": f"U+{ord(char):04X}",
                "name": SCRIPTS.get(script, unicodedata.name(char, "?")),
                "latin": LOOKALIKES[char], "position": position, "which": which})
    return parts


def odd_characters(text: str, which, cleaned=None) -> list:
    """Every invisible, control or look-alike character of ``text``, in the diagnosis's
    words (``which`` says where the text stood: "in der Eingabe", "in der Datei");
    ``cleaned``: ``clean(text)`` when the caller has it already."""
    return _odd(cleaned or clean(text), text, which)


def marked(address: str) -> str:
    """The address with each invisible, control or look-alike character shown as ⟦U+…⟧."""
    removed = {r.position for r in clean(address).removed if r.char != " "}
    return "".join(f"⟦U+{ord(c):04X}⟧" if i in removed or c in LOOKALIKES else c
                   for i, c in enumerate(address, start=1))


def diagnose(slug: str, typed: str) -> tuple[list[Finding], bool]:
    """Every check for ``typed`` at VHS ``slug``, and whether the person could get access."""
    vhs = db.session().scalar(select(Vhs).where(Vhs.slug == slug))
    if vhs is None:
        return [Finding(False, _l("VHS %(slug)r ist unbekannt"), {"slug": slug})], False
    return diagnose_at(vhs, typed)


def diagnose_at(vhs: Vhs, typed: str) -> tuple[list[Finding], bool]:
    """Every check for ``typed`` at ``vhs``, and whether the person could get access."""
    names = {"name": vhs.name}
    found = [Finding(True, _l("%(name)s ist freigeschaltet: sie steht in der Auswahlliste "
                              "der Anmeldung"), names) if vhs.onboarded else
             Finding(False, _l("%(name)s ist nicht freigeschaltet: sie steht nicht in der "
                               "Auswahlliste der Anmeldung"), names,
                     _l("ITEM muss die VHS in die Auswahlliste aufnehmen."))]
    typed_clean = clean(typed)
    odd = _odd(typed_clean, typed, TYPED)
    if odd:
        found.append(Finding(None, _l("die eingegebene Adresse wurde zu %(value)r bereinigt: "
                                      "%(removed)s"),
                             {"value": typed_clean.value, "removed": Joined(odd)},
                             shown=marked(typed)))
    if not is_plausible(typed_clean.value):
        found.append(Finding(False, _l("%(value)r ist keine E-Mail-Adresse"),
                             {"value": typed_clean.value}))
        return found, False
    access = False
    if vhs.adapter:
        decision = _program_checks(vhs, typed, typed_clean, found)
        access = vhs.onboarded and decision is not None and decision.eligible
    else:
        found.append(Finding(None, _l("für diese VHS ist kein Verwaltungsprogramm "
                                      "angebunden: nur von Administratoren angelegte Zugänge "
                                      "können sich anmelden")))
    account = accounts.find(vhs, typed_clean.value)
    if not vhs.adapter:
        access = vhs.onboarded and account is not None and account.active
    found.append(_portal_check(vhs, typed_clean.value))
    found.append(_account_check(account))
    if account is not None:
        found.append(_factor_check(account))
    found.append(Finding(True, _l("der Mailserver der VHS ist eingetragen")) if
                 vhs.mail_config else
                 Finding(False, _l("der Mailserver der VHS fehlt: Mails warten im "
                                   "Postausgang"), advice=_l(
                     "Tragen Sie den Mailserver der VHS ein; bis dahin wartet jede Mail.")))
    found.extend(last_mails(vhs, typed_clean.value))
    return found, access


def _account_check(account) -> Finding:
    if account is None:
        return Finding(None, _l("lokaler Zugang: keiner"))
    values = {"status": STATES.get(account.status, account.status)}
    if account.status == Status.DISABLED:
        return Finding(False, _l("lokaler Zugang: %(status)s"), values, _l(
            "Ein Administrator hat den Zugang gesperrt; entsperren Sie ihn unter „Personen“, "
            "wenn die Person wieder hinein soll."))
    if account.status == Status.PENDING:
        return Finding(None, _l("lokaler Zugang: %(status)s"), values, _l(
            "Die Person hat den Link der Aktivierungsmail noch nicht geöffnet: sehen Sie "
            "unten nach, ob die Mail zugestellt wurde (auch im Spam-Ordner), oder senden Sie "
            "sie unter „Personen“ erneut."))
    return Finding(None, _l("lokaler Zugang: %(status)s"), values)


def _factor_check(account) -> Finding:
    have = factors.of(account)
    if not have.any:
        if account.vhs.mfa_required:
            return Finding(None, _l("zweiter Faktor: keiner; die VHS schreibt ihn vor, die "
                                    "Person richtet ihn bei der nächsten Anmeldung ein"))
        return Finding(None, _l("zweiter Faktor: keiner"))
    values = {"apps": int(have.totp is not None), "passkeys": len(have.passkeys),
              "codes": have.recovery_left}
    return Finding(None, _l("zweiter Faktor: %(apps)s Authenticator-App, %(passkeys)s "
                            "Passkeys, %(codes)s Wiederherstellungscodes übrig"), values, _l(
        "Nach dem Passwort fragt die Anmeldung nach dem zweiten Faktor. Hat die Person App, "
        "Passkeys und Codes verloren, setzen Sie ihn auf ihrer Seite unter „Personen“ zurück "
        "(„Zweiten Faktor zurücksetzen“); „Passwort vergessen“ entfernt ihn nie."))


def _portal_check(vhs: Vhs, address: str) -> Finding:
    portal = portals.portal_for(vhs)
    if portal is None:
        return Finding(None, _l("itm:PORTAL: für diese VHS keines eingetragen"))
    try:
        known = portal.lookup(address)
    except PortalUnavailable as error:
        return Finding(False, _l("das itm:PORTAL ist nicht erreichbar: %(error)s"),
                       {"error": error}, _l("ITEM prüft die Verbindung zum itm:PORTAL."))
    if known:
        return Finding(None, _l("das itm:PORTAL hat einen Mitarbeitenden-Login für die "
                                "Adresse: dieser Login und sein Passwort gelten hier (kein "
                                "zweiter Zugang)"))
    return Finding(None, _l("das itm:PORTAL hat keinen Login für die Adresse"))


def last_mails(vhs: Vhs, address: str, limit: int = 5) -> list[Finding]:
    """The last mails to ``address`` from the VHS's server and what became of them."""
    rows = db.session().scalars(
        select(OutboxMail).where(OutboxMail.vhs_id == vhs.id, OutboxMail.recipient == address)
        .order_by(OutboxMail.id.desc()).limit(limit))
    lines = []
    for row in rows:
        values = {"kind": labels.mail(row.kind), "error": row.last_error or "",
                  "attempts": row.attempts, "when": labels.moment(row.created_at)}
        if row.delivered_at:
            lines.append(Finding(None, _l("Mail „%(kind)s“ vom %(when)s: zugestellt"), values,
                                 _l("Der Mailserver der VHS hat sie angenommen; kam sie nicht "
                                    "an, liegt sie oft im Spam-Ordner.")))
        elif row.failed_at:
            lines.append(Finding(False, _l("Mail „%(kind)s“ vom %(when)s: aufgegeben; der "
                                           "Mailserver sagte „%(error)s“"), values,
                                 _l("Prüfen Sie den Mailserver (Testmail senden) und senden "
                                    "Sie die Mail erneut.")))
        elif row.last_error:
            lines.append(Finding(None, _l("Mail „%(kind)s“ vom %(when)s: wartet (%(attempts)s "
                                          "Versuche); zuletzt sagte der Mailserver "
                                          "„%(error)s“"), values))
        else:
            lines.append(Finding(None, _l("Mail „%(kind)s“ vom %(when)s: wartet (%(attempts)s "
                                          "Versuche)"), values))
    return lines or [Finding(None, _l("Mails an diese Adresse: keine"))]


def _similar(vhs: Vhs, typed: str) -> list[str]:
    """Addresses the program has that are one or two letters from ``typed`` (an adapter
    that can tell: the SQL adapters), or none."""
    finder = getattr(eligibility.adapter_for(vhs), "similar", None)
    try:
        return finder(typed) if finder is not None else []
    except AdapterUnavailable:
        return []


def _program_checks(vhs: Vhs, typed: str, typed_clean: CleanAddress,
                    found: list[Finding]) -> Decision | None:
    names = {"program": labels.program(vhs.adapter)}
    try:  # looking is not acting: a diagnosis ends nobody's access (idp.leavers)
        decision = eligibility.ask(vhs, typed, react=False)
    except AdapterUnavailable as error:
        found.append(Finding(False, _l("das Verwaltungsprogramm (%(program)s) ist nicht "
                                       "erreichbar: %(error)s"), names | {"error": error},
                             _l("Prüfen Sie, ob das Verwaltungsprogramm läuft und vom "
                                "Anmeldedienst aus erreichbar ist („Verbindung testen“).")))
        return None
    found.append(Finding(True, _l("das Verwaltungsprogramm (%(program)s) antwortet"), names))
    person = decision.person
    if person is None:
        near = _similar(vhs, typed)
        found.append(Finding(False, _l("die Adresse steht nicht in der Benutzerverwaltung des "
                                       "Verwaltungsprogramms (sie muss dort genau so stehen)"),
                             advice=_l("Tragen Sie die Adresse in der Benutzerverwaltung beim "
                                       "Benutzer genau so ein, wie die Person sie eingibt.")))
        if near:
            found.append(Finding(None, _l("dort steht eine ähnliche Adresse, vielleicht mit "
                                          "einem Tippfehler: %(near)s"),
                                 {"near": ", ".join(near)},
                                 _l("Prüfen Sie, welche Schreibweise stimmt, und korrigieren "
                                    "Sie sie in der Benutzerverwaltung oder bei der Person.")))
        return decision
    who = {"who": f"{person.user_id}" + (f" ({person.display_name})"
                                         if person.display_name else "")}
    stored_text = person.stored_address or ""
    stored = _odd(clean(stored_text), stored_text, STORED)
    if not typed_clean.removed and not stored:
        found.append(Finding(True, _l("die Adresse ist so gespeichert, wie eingegeben: "
                                      "Benutzer %(who)s"), who))
    else:
        detail = Joined(_odd(typed_clean, typed, TYPED) + stored)
        found.append(Finding(
            True, _l("die Adresse passt erst nach dem Bereinigen: Benutzer %(who)s; "
                     "%(detail)s"), who | {"detail": detail},
            _l("Korrigieren Sie die gespeicherte Adresse in der Benutzerverwaltung: löschen "
               "Sie sie und tippen Sie sie neu ein.") if stored else None,
            shown=marked(stored_text) if stored else None))
    if decision.status == INACTIVE:
        found.append(Finding(False, _l("der Benutzer ist im Verwaltungsprogramm nicht aktiv"),
                             advice=_l("Setzen Sie den Benutzer im Verwaltungsprogramm wieder "
                                       "aktiv, wenn die Person Zugang haben soll.")))
        return decision
    found.append(Finding(True, _l("der Benutzer ist aktiv")))
    if decision.status == NOT_RELEASED:
        found.append(Finding(False, _l("„Im Internet anzeigen“ ist nicht gesetzt (die "
                                       "Meldung der Hilfeseite: „%(message)s“)"),
                             {"message": NOT_RELEASED_MESSAGE},
                             _l("Setzen Sie in KuferSQL beim Benutzer auf dem Reiter "
                                "„Schalter“ den Haken „Im Internet anzeigen“.")))
        return decision
    found.append(Finding(True, _l("„Im Internet anzeigen“ ist gesetzt")))
    if vhs.adapter == "kma":
        if decision.status == NOT_LINKED:
            found.append(Finding(False, _l("die Verknüpfung in der Kursmanagement-APP fehlt"),
                                 advice=_l("Das erledigt ITEM, nicht die Person: ITEM "
                                           "verknüpft den Benutzer in der "
                                           "Kursmanagement-APP und trägt ihn unter "
                                           "„KMA-Verknüpfungen“ ein (eine Hilfe-Anfrage der "
                                           "Person landet von selbst bei ITEM).")))
        else:
            found.append(Finding(True, _l("die Verknüpfung in der Kursmanagement-APP ist da")))
    return decision
