"""What every console action shares: its CSRF-carrying form, its audit event, the way
back to the page it came from, and the messages it leaves there."""

from __future__ import annotations

from flask import flash, redirect, request
from flask_wtf import FlaskForm

from .. import audit, signin
from . import gate


class ActionForm(FlaskForm):
    """A button with a CSRF token (the gate checks it)."""


def record(action: str, vhs: str | None = None, **values) -> None:
    """An audit event for a console action, naming the administrator who did it."""
    audit.record("admin", vhs=vhs, actor=gate.clearance().actor, detail=action, **values)


def done(message, default: str, category: str = "notice"):
    """Say ``message`` on the page the form was on (303), else on ``default``."""
    flash(str(message), category)
    return redirect(signin.console_page(request.form.get("back")) or default, 303)


def text(name: str) -> str:
    """A form field's text, stripped; never cut (the domain function checks its length, so
    an oversized value is refused, not stored shortened)."""
    return (request.form.get(name) or "").strip()
