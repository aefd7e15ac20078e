"""The VHS (tenants): onboarding, lookup, and the token for pushing their user lists."""

from __future__ import annotations

import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import bindparam, insert, select

from . import db, eligibility
from .kept import Kept
from .models import Vhs, digest

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")  # a DNS label: <slug>.meine-vhs.de


class TenantError(ValueError):
    """The request breaks a rule about a VHS; the message says which."""


def add(slug: str, name: str, onboarded: bool, adapter: str | None = None,
        adapter_options: dict | None = None) -> Vhs:
    """Create a VHS, with its Verwaltungsprogramm adapter if one is named.

    Raises TenantError, or adapters.base.AdapterConfigError for bad adapter options.
    """
    if not SLUG.match(slug or ""):
        raise TenantError("the VHS slug must be lower-case letters, digits and hyphens "
                          "(like the portal host name <slug>.meine-vhs.de)")
    name = _checked_name(name)
    if db.session().scalar(select(Vhs.id).where(Vhs.slug == slug)):
        raise TenantError(f"a VHS {slug!r} exists already")
    vhs = Vhs(slug=slug, name=name, onboarded=onboarded)
    db.session().add(vhs)
    db.session().flush()
    if adapter:
        eligibility.configure(vhs, adapter, adapter_options or {})
    return vhs


def add_many(names: dict[str, str], onboarded: bool) -> int:
    """Create the VHS of ``names`` (slug -> name) that do not exist yet, without adapters,
    in one statement (the demo's list of about 850); how many were new.

    Raises TenantError for a bad slug or name, before anything is written.
    """
    for slug, name in names.items():
        if not SLUG.match(slug or ""):
            raise TenantError(f"the VHS slug {slug!r} must be lower-case letters, digits and "
                              "hyphens")
        names[slug] = _checked_name(name)
    known = set(db.session().scalars(select(Vhs.slug)))
    rows = [{"slug": slug, "name": name, "onboarded": onboarded}
            for slug, name in names.items() if slug not in known]
    if rows:
        db.session().execute(insert(Vhs), rows)
    return len(rows)


def _checked_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200 or any(unicodedata.category(c) == "Cc" for c in name):
        raise TenantError("the VHS name must be 1 to 200 characters, without control "
                          "characters")
    return name


def change(vhs: Vhs, name: str | None = None, onboarded: bool | None = None) -> Vhs:
    """Rename a VHS, or put it in the login drop-down or take it out."""
    if name is not None:
        vhs.name = _checked_name(name)
    if onboarded is not None:
        vhs.onboarded = onboarded
    return vhs


def find(slug: str) -> Vhs:
    """The VHS with ``slug``; TenantError when there is none."""
    vhs = db.session().scalar(select(Vhs).where(Vhs.slug == (slug or "")[:63]))
    if vhs is None:
        raise TenantError(f"unknown VHS {slug!r} (see `vhskoop-idp vhs list`)")
    return vhs


ONBOARDED = select(Vhs).where(Vhs.slug == bindparam("slug"), Vhs.onboarded)


def onboarded(slug: str) -> Vhs | None:
    """The onboarded VHS with ``slug`` (a choice on the login page), if there is one."""
    return db.session().scalar(ONBOARDED, {"slug": (slug or "")[:63]})


@dataclass(frozen=True)
class Listed:
    """A VHS as the login page lists it."""

    slug: str
    name: str
    aliases: tuple[str, ...]
    brokered: bool  # "Mit itm:PORTAL anmelden" (an upstream OpenID provider is set)

    @property
    def place_first(self) -> str:
        """The name with its place first ("Münster (vhs)" for "vhs Münster"): the plain
        list without JavaScript is found by typing a town's first letters."""
        named = PLACE.match(self.name)
        return f"{named['place']} ({named['kind']})" if named else self.name


def _read_listing() -> tuple[Listed, ...]:
    rows = db.session().execute(select(Vhs.slug, Vhs.name, Vhs.upstream_config.is_not(None))
                                .where(Vhs.onboarded)).all()
    return tuple(Listed(slug, name, tuple(aliases(name)), bool(brokered))
                 for slug, name, brokered in sorted(rows, key=lambda row: sort_key(row[1])))


def listed() -> tuple[Listed, ...]:
    """The VHS shown in the login drop-down, in German order (``sort_key``). The login
    page shows all of them (850 and more) to everyone who opens it: the list is kept for
    IDP_CLIENTS_RELOAD_SECONDS (``idp.kept``)."""
    return current_app.extensions["idp.listing"].get(None, _read_listing)


def init_app(app: Flask) -> None:
    """The per-app store of the kept listing."""
    app.extensions["idp.listing"] = Kept(Vhs, app.config["CLIENTS_RELOAD_SECONDS"])


PLACE = re.compile(r"(?P<kind>Kreisvolkshochschule|Volkshochschule|KVHS|VHS)\s+(?P<place>\S.*)",
                   re.IGNORECASE)
PREFIXES = ("kreisvolkshochschule ", "volkshochschule ", "kvhs ", "vhs ")
ALIASES = {"kreisvolkshochschule ": ("kvhs ", "kreis-vhs "), "kvhs ": ("kreisvolkshochschule ",),
           "volkshochschule ": ("vhs ",), "vhs ": ("volkshochschule ",)}


def fold(text: str) -> str:
    """Case and accents folded the German way (DIN 5007-1: ä as a, ß as ss)."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("ß", "ss"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue",
                         "ß": "ss"})


def spelled_out(text: str) -> str:
    """Umlauts written out the other German way (DIN 5007-2: "Köln" as "Koeln")."""
    return text.translate(UMLAUTS)


def finds(query: str, name: str) -> bool:
    """Whether a typed ``query`` finds the VHS ``name``: folded either way ("koeln" and
    "koln" find "Köln"), with the other ways of writing its kind (``aliases``)."""
    wanted = fold(query)
    return not wanted or any(wanted in form for form in (
        fold(name), fold(spelled_out(name)), *aliases(name)))


def sort_key(name: str) -> tuple[str, str]:
    """Sort "vhs Öhringen", "Volkshochschule Aachen" and "KVHS Zwickau" by the place:
    a leading "vhs", "VHS", "Volkshochschule", "Kreisvolkshochschule" or "KVHS" does not
    count, case and umlauts are folded; the whole name breaks ties."""
    folded = fold(name)
    for prefix in PREFIXES:
        if folded.startswith(prefix):
            return folded[len(prefix):], folded
    return folded, folded


def aliases(name: str) -> list[str]:
    """Other ways people write the name ("KVHS X" for "Kreisvolkshochschule X"), so that
    typing either finds it."""
    folded = fold(name)
    return [alias + folded[len(prefix):] for prefix, others in ALIASES.items()
            if folded.startswith(prefix) for alias in others]


def every() -> list[Vhs]:
    """Every VHS, by slug."""
    return list(db.session().scalars(select(Vhs).order_by(Vhs.slug)))


def new_directory_token(vhs: Vhs) -> str:
    """A new bearer token for pushing the VHS's user list; the old one stops working."""
    token = secrets.token_urlsafe(32)
    vhs.directory_token_hash = digest(token)
    return token


def directory_pusher(slug: str, token: str) -> Vhs | None:
    """The VHS whose directory token ``token`` is, if it is."""
    vhs = db.session().scalar(select(Vhs).where(Vhs.slug == (slug or "")[:63]))
    if vhs is None or not vhs.directory_token_hash or not token:
        return None
    return vhs if hmac.compare_digest(digest(token), vhs.directory_token_hash) else None
