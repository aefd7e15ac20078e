"""The demo's world: three VHS with the Verwaltungsprogramm, the itm:PORTAL and the people
that show every case of the help page, and about 850 more VHS names for the drop-down.

Each demo VHS has a KuferSQL-shaped program database of its own (a SQLite file in the
instance folder, written anew at every start): the provider reads it through the very
adapter it uses for a real KuferSQL.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine

NAMES = Path(__file__).parent / "data" / "vhs-names.txt"
NBSP = "\u00a0"


@dataclass(frozen=True)
class Person:
    """Someone in a demo VHS's Benutzerverwaltung."""

    id: int
    first: str
    last: str
    stored_address: str  # as the program stores it (invisible characters included)
    active: bool = True
    released: bool = True  # "Im Internet anzeigen"
    case: str = ""  # what the demo shows with this person (words for the demo page)
    portal_login: bool = False  # has a staff login in the VHS's itm:PORTAL
    typed: str = ""  # the address the person types, where the program has another one

    @property
    def address(self) -> str:
        """The address as a person types it."""
        return self.typed or self.stored_address.strip(NBSP + " ")


@dataclass(frozen=True)
class DemoVhs:
    """One of the three VHS that are set up for real."""

    slug: str
    name: str
    adapter: str  # kufersql, or kma over kufersql
    people: tuple[Person, ...]
    portal: bool = False  # its itm:PORTAL checks the passwords of its staff logins


MUSTERSTADT = DemoVhs("musterstadt", "vhs Musterstadt", "kufersql", (
    Person(1, "Dana", "Demo", "demo@vhs-musterstadt.de",
           case=_l("hat einen Zugang (Passwort im Banner)")),
    Person(2, "Nora", "Neu", "neu@vhs-musterstadt.de",
           case=_l("kann einen Zugang anfordern (Neuer Zugang)")),
    Person(3, "Frieda", "Freigabe", "freigabe@vhs-musterstadt.de", released=False,
           case=_l("„Im Internet anzeigen“ ist nicht gesetzt")),
    Person(4, "Lea", "Leerzeichen", "leerzeichen@vhs-musterstadt.de" + NBSP,
           case=_l("mit einem unsichtbaren Leerzeichen gespeichert")),
    Person(5, "Ida", "Inaktiv", "inaktiv@vhs-musterstadt.de", active=False,
           case=_l("im Verwaltungsprogramm nicht mehr aktiv")),
    Person(6, "Tom", "Tippfehler", "tom.tipfehler@vhs-musterstadt.de",
           typed="tom.tippfehler@vhs-musterstadt.de",
           case=_l("im Verwaltungsprogramm mit einem Tippfehler gespeichert")),
    Person(7, "Anton", "Admin", "admin@vhs-musterstadt.de",
           case=_l("Administrator der VHS: Konsole mit Authenticator-App (Code im Banner)")),
    Person(8, "Lea", "Weggang", "weggang@vhs-musterstadt.de",
           case=_l("hat einen Zugang; wer im Demo-Programm „aktiv“ abwählt, sieht sie "
                   "ausscheiden: ihre Sitzungen enden binnen Sekunden")),
))
ADMIN = MUSTERSTADT.people[6]  # the console's administrator, with TOTP
LEAVER = MUSTERSTADT.people[7]  # signs in, then leaves the program (the lifecycle pass)
BEISPIELKREIS = DemoVhs("beispielkreis", "Kreisvolkshochschule Beispielkreis", "kma", (
    Person(1, "Karl", "Kursleiter", "kma@kvhs-beispielkreis.de",
           case=_l("nutzt die Kursmanagement-APP, von ITEM noch nicht verknüpft")),
    Person(2, "Vera", "Verknüpft", "verknuepft@kvhs-beispielkreis.de",
           case=_l("nutzt die Kursmanagement-APP, verknüpft")),
))
PORTALSTADT = DemoVhs("portalstadt", "vhs Portalstadt", "kufersql", (
    Person(1, "Paula", "Portal", "portal@vhs-portalstadt.de", portal_login=True,
           case=_l("hat einen Mitarbeitenden-Login im itm:PORTAL, das ihr Passwort prüft")),
    Person(2, "Lukas", "Lokal", "lokal@vhs-portalstadt.de",
           case=_l("ohne Login im itm:PORTAL: kann hier einen Zugang anfordern")),
), portal=True)
VHS = (MUSTERSTADT, BEISPIELKREIS, PORTALSTADT)
LINKED = (("beispielkreis", "verknuepft@kvhs-beispielkreis.de"),)


def other_names() -> list[str]:
    """About 850 more VHS for the drop-down (without a program: they only fill the list)."""
    return [line.strip() for line in NAMES.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def slug_of(name: str) -> str:
    """A DNS-label slug of a VHS name: "vhs Öhringen" -> "oehringen"."""
    words = name.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    words = unicodedata.normalize("NFKD", words.replace("ß", "ss"))
    words = words.encode("ascii", "ignore").decode().split()
    if words and words[0] in ("vhs", "volkshochschule", "kreisvolkshochschule"):
        words = (["kvhs"] if words[0] == "kreisvolkshochschule" else []) + words[1:]
    slug = "-".join("".join(c for c in word if c.isalnum()) for word in words)
    return "-".join(part for part in slug.split("-") if part)[:63]


def write_program(path: Path, vhs: DemoVhs) -> str:
    """The VHS's KuferSQL-shaped Benutzerverwaltung, written anew; its SQLAlchemy URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    table = _benutzer()
    engine = create_engine(url)
    with engine.begin() as connection:
        table.create(connection)
        connection.execute(table.insert(), [{
            "id": p.id, "vorname": p.first, "name": p.last, "email": p.stored_address,
            "email2": None, "aktiv": "J" if p.active else "N",
            "internet_anzeigen": "J" if p.released else "N", "mandant": "1"}
            for p in vhs.people])
    engine.dispose()
    return url


def keep_program(path: Path, vhs: DemoVhs) -> str:
    """The VHS's program database as the demo left it (an address fixed there stays
    fixed across restarts), written anew only when it is missing; its SQLAlchemy URL."""
    if path.exists():
        return f"sqlite:///{path}"
    return write_program(path, vhs)


def read_program(url: str) -> list[dict]:
    """The rows of a demo VHS's Benutzerverwaltung, as the program stores them now."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(
                _benutzer().select().order_by(_benutzer().c.id))]
    finally:
        engine.dispose()


def change_program(url: str, user_id: int, email: str, active: bool, released: bool) -> None:
    """Change one user as the VHS would in its program (the demo's "KuferSQL")."""
    table = _benutzer()
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(table.update().where(table.c.id == user_id).values(
                email=email, aktiv="J" if active else "N",
                internet_anzeigen="J" if released else "N"))
    finally:
        engine.dispose()


def _benutzer() -> Table:
    return Table("benutzer", MetaData(), Column("id", Integer, primary_key=True),
                 *(Column(name, String(320)) for name in (
                     "vorname", "name", "email", "email2", "aktiv", "internet_anzeigen",
                     "mandant")))
