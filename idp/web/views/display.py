"""How the pages write things for people: times in Europe/Berlin the German (or English)
way, browsers as "Firefox auf Windows", not as raw identification strings."""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext
from ua_parser import parse

from ... import help, labels
from ...diagnose import marked


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
    """The template filters ``when`` (a moment in Europe/Berlin), ``device``, ``marked``
    (an address with its invisible characters shown), ``findings`` and ``problem`` (a help
    request's kept diagnosis) and the console's labels (``idp.labels``: ``kind_label``,
    ``reason_label``, ...)."""
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Berlin")
    app.add_template_filter(labels.moment, "when")
    for name, function in labels.filters().items():
        app.add_template_filter(function, name)
    app.add_template_filter(device, "device")
    app.add_template_filter(marked, "marked")
    app.add_template_filter(help.findings, "findings")  # a help request's kept diagnosis
    app.add_template_filter(help.problem, "problem")
