"""Every administrative act, declared once: its name, as the audit trail keeps it (the
detail of an "admin" event), and its words for the console.

The console and the command line record the same act under the same name: disabling an
account is "accounts disable" whether it was pressed in the console or typed as
``vhskoop-idp accounts disable``. Each command that changes something names its act when it
is declared (``idp.cli.base``), a read-only one says so there; an act that is not declared
here fails at once, where it is declared.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from . import audit

ACTS = {
    "clients add": _l("Dienst registriert"),
    "clients set": _l("Dienst geändert"),
    "clients rotate-secret": _l("neues Secret eines Dienstes erzeugt"),
    "diagnose": _l("Diagnose angesehen"),
    "keys rotate": _l("Signierschlüssel gewechselt"),
    "kma link": _l("Verknüpfung in der Kursmanagement-APP eingetragen"),
    "kma unlink": _l("Verknüpfung in der Kursmanagement-APP entfernt"),
    "help digest de": _l("tägliche Zusammenfassung auf Deutsch bestellt"),
    "help digest en": _l("tägliche Zusammenfassung auf Englisch bestellt"),
    "help digest none": _l("tägliche Zusammenfassung abbestellt"),
    "vhs add": _l("VHS aufgenommen"),
    "vhs set": _l("VHS geändert"),
    "vhs set-adapter": _l("Verwaltungsprogramm eingetragen"),
    "vhs set-mail": _l("Mailserver eingetragen"),
    "vhs set-portal": _l("itm:PORTAL eingetragen"),
    "vhs set-legacy-login": _l("alten Login für übernommene Zugänge eingetragen"),
    "vhs set-upstream": _l("Anmeldung über das itm:PORTAL eingetragen"),
    "vhs set-mfa": _l("zweiten Faktor für die VHS festgelegt"),
    "vhs set-privacy": _l("Verantwortliche und Datenschutzbeauftragte eingetragen"),
    "vhs test-mail": _l("Testmail gesendet"),
    "vhs test-program": _l("Verbindung zum Verwaltungsprogramm getestet"),
    "accounts add": _l("Zugang angelegt"),
    "accounts disable": _l("Zugang gesperrt"),
    "accounts enable": _l("Zugang entsperrt"),
    "accounts reset-mfa": _l("zweiten Faktor zurückgesetzt"),
    "accounts delete": _l("Zugang gelöscht"),
    "accounts keep": _l("Zugang behalten (Ausnahme)"),
    "accounts import": _l("Zugänge aus dem alten Login übernommen"),
    "accounts end-sessions": _l("Anmeldungen beendet"),
    "accounts activation-mail": _l("Aktivierungsmail erneut gesendet"),
    "accounts reset-mail": _l("Mail zum neuen Passwort gesendet"),
    "vhs directory-token": _l("neuer Schlüssel für die Benutzerliste"),
    "vhs import-directory": _l("Benutzerliste eingelesen"),
    "db upgrade": _l("Datenbank auf den neuen Stand gebracht"),
    "purge": _l("Abgelaufenes gelöscht"),
    "lifecycle run": _l("Verwaltungsprogramme nach Ausgeschiedenen gefragt"),
    "lifecycle confirm": _l("angehaltene Prüfung bestätigt: Ausgeschiedene abgemeldet"),
    "lifecycle dismiss": _l("angehaltene Prüfung verworfen"),
    "admins grant": _l("Rolle vergeben"),
    "admins revoke": _l("Rolle entzogen"),
}


class UnknownAct(LookupError):
    """An act that is not declared in ``ACTS``."""


def declared(act: str) -> str:
    """``act`` itself, when it is declared; raises UnknownAct otherwise."""
    if act not in ACTS:
        raise UnknownAct(f"the administrative act {act!r} is not declared in idp.acts.ACTS")
    return act


def record(act: str, actor: str, vhs: str | None = None, **values) -> None:
    """The audit event of ``act``, done by ``actor`` ("console:<vhs>/<address>",
    "cli:<user>")."""
    audit.record("admin", vhs=vhs, actor=actor, detail=declared(act), **values)
