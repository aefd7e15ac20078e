"""The settings page's form for a VHS's Verwaltungsprogramm: one field per option of its
adapter, with the value in force and the option's explanation (a secret, such as a
database URL with its password, is never shown: an empty field keeps it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from adapters import registry
from adapters.base import REQUIRED, AdapterConfigError

from ...models import Vhs
from ...sealing import unseal

# What each option means, in the console's words (the adapters, which know no Flask,
# explain them in English for the command line and the docs)
DOCS = {
    "url": _l("Adresse der Datenbank des Programms (SQLAlchemy-URL, Benutzer nur mit "
              "Leserechten) bzw. des Brokers von ITEM (AMQP)"),
    "schema": _l("Schema der Tabelle; leer: das voreingestellte"),
    "table": _l("die Tabelle der Benutzer"),
    "id_column": _l("die Kennung des Benutzers im Programm"),
    "name_columns": _l("Spalten, die zusammen den Namen ergeben"),
    "email_columns": _l("jede Spalte, in der die Adresse stehen kann"),
    "active_column": _l("der Benutzer ist aktiv"),
    "released_column": _l("die Freigabe („Im Internet anzeigen“)"),
    "mandant_column": _l("der Mandant; leer: keiner"),
    "mandant": _l("nur Benutzer dieses Mandanten; leer: alle"),
    "truthy": _l("Werte, die „ja“ bedeuten (klein geschrieben verglichen)"),
    "timeout": _l("Sekunden für Verbindung und Abfrage"),
    "scan_on_miss": _l("jede gespeicherte Adresse bereinigen, wenn die genaue Suche nichts "
                       "findet"),
    "queue": _l("die Warteschlange des Connectors; leer: der voreingestellte Name"),
    "file": _l("eine CSV- oder JSON-Datei; leer: die an den Anmeldedienst übertragene Liste"),
    "program": _l("der Adapter des Verwaltungsprogramms der VHS"),
    "program_options": _l("die Optionen dieses Adapters (nur als Ganzes, unten)"),
}


@dataclass(frozen=True)
class Shown:
    """One option of the VHS's adapter as the settings form shows it."""

    name: str
    doc: str
    value: str  # as typed: a list one item a line; a secret never ("" keeps it)
    kind: str  # "text", "list", "flag", "whole" (only with all options at once)
    secret: bool


def in_force(vhs: Vhs) -> list[Shown]:
    """The options of the VHS's adapter, each with the value in force."""
    if not vhs.adapter or vhs.adapter not in registry.available():
        return []
    declared = registry.adapter_class(vhs.adapter).OPTIONS
    stored = unseal(vhs.adapter_config) if vhs.adapter_config else {}
    shown = []
    for name, option in declared.items():
        value = stored.get(name, None if option.default is REQUIRED else option.default)
        kind = ("flag" if option.kind is bool else "list" if option.kind is list
                else "whole" if option.kind is dict else "text")
        text = "\n".join(map(str, value)) if isinstance(value, list) else (
            "" if value is None or option.secret else str(value))
        shown.append(Shown(name, DOCS.get(name, option.doc), text, kind, option.secret))
    return shown


def _typed(option, text: str):
    """A form field's text as the option's type (ValueError when it is none)."""
    kinds = option.kind if isinstance(option.kind, tuple) else (option.kind,)
    if list in kinds:
        return [line.strip() for line in text.splitlines() if line.strip()]
    for kind in (int, float):
        if kind in kinds:
            try:
                return kind(text)
            except ValueError:
                if kind is int and float in kinds:
                    continue
                raise
    return text


def posted(vhs: Vhs, form: Mapping) -> dict:
    """The options of the VHS's adapter as the form sent them, over the stored ones;
    AdapterConfigError for a field that is not of its option's type."""
    options = unseal(vhs.adapter_config) if vhs.adapter_config else {}
    for name, option in registry.adapter_class(vhs.adapter).OPTIONS.items():
        field = f"option-{name}"
        if option.kind is dict:
            continue  # a nested adapter's options: only with all options at once
        if option.kind is bool:
            options[name] = bool(form.get(field))
        elif field in form:
            text = form.get(field, "").strip()
            if text or not option.secret:
                try:
                    options[name] = _typed(option, text)
                except ValueError:
                    raise AdapterConfigError(f"option {name!r}: {text!r} is no number") from None
    return options
