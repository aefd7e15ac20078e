"""How the pages write things for people: times in Europe/Berlin the German (or English)
way, browsers as "Firefox auf Windows", not as raw identification strings."""

from __future__ import annotations

from flask import Flask

from ... import help, labels
from ...diagnose import marked


def init_app(app: Flask) -> None:
    """The template filters ``when`` (a moment in Europe/Berlin), ``device``, ``marked``
    (an address with its invisible characters shown), ``findings`` and ``problem`` (a help
    request's kept diagnosis) and the console's labels (``idp.labels``: ``kind_label``,
    ``reason_label``, ...)."""
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Berlin")
    app.add_template_filter(labels.moment, "when")
    for name, function in labels.filters().items():
        app.add_template_filter(function, name)
    app.add_template_filter(labels.device, "device")
    app.add_template_filter(marked, "marked")
    app.add_template_filter(help.findings, "findings")  # a help request's kept diagnosis
    app.add_template_filter(help.problem, "problem")
