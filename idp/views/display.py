"""How the pages write things for people: times in Europe/Berlin the German (or English)
way, browsers as "Firefox auf Windows", not as raw identification strings."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask
from flask_babel import format_datetime, get_locale, gettext
from ua_parser import parse

from ..diagnose import marked

PATTERNS = {"de": "dd.MM.yyyy, HH:mm 'Uhr'", "en": "d MMM yyyy, HH:mm"}


def when(seconds: int | None) -> str:
    """A moment in the people's time zone: "28.11.2026, 09:41 Uhr"."""
    if not seconds:
        return ""
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return format_datetime(moment, PATTERNS.get(str(get_locale()), PATTERNS["de"]))


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


def init_app(app: Flask) -> None:
    """The template filters ``when``, ``device`` and ``marked`` (an address with its
    invisible characters shown); times in Europe/Berlin."""
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Berlin")
    app.add_template_filter(when, "when")
    app.add_template_filter(device, "device")
    app.add_template_filter(marked, "marked")
