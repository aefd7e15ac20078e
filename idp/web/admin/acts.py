"""What every console page shares: its act in the audit trail, the way back to the page a
form came from, the messages it leaves there, a form field's text, a keyset page's start."""

from __future__ import annotations

from flask import flash, redirect, request

from ... import acts
from ..views import pages
from . import gate


def record(act: str, vhs: str | None = None, **values) -> None:
    """A console action's act (``idp.acts``), naming the administrator who did it."""
    acts.record(act, actor=gate.clearance().actor, vhs=vhs, **values)


def done(message, default: str, category: str = "notice"):
    """Say ``message`` on the page the form was on (303), else on ``default``."""
    flash(str(message), category)
    return redirect(pages.console_page(request.form.get("back")) or default, 303)


def before_id() -> int | None:
    """The ``before`` of a keyset page (an id), or None for the first page."""
    value = request.args.get("before", "")
    return int(value) if value.isdigit() and len(value) < 19 else None


def text(name: str) -> str:
    """A form field's text, stripped; never cut (the domain function checks its length, so
    an oversized value is refused, not stored shortened)."""
    return (request.form.get(name) or "").strip()
