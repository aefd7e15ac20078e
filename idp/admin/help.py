""""Hilfe-Anfragen": what people who could not get in asked their VHS (``idp.help``),
open ones first, each with the diagnosis as it was run; "jetzt erneut prüfen",
"erledigt", and "ablehnen" with a reason the person is sent."""

from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask_babel import lazy_gettext as _l

from .. import help, labels
from ..models import HelpRequest, HelpState, Vhs
from . import acts, gate

bp = Blueprint("help", __name__, url_prefix="/vhs/<slug>/hilfe")

SOLVED = _l("%(address)s ist jetzt berechtigt: die E-Mail zum Passwort ist unterwegs.")
STILL = _l("%(address)s: das Verwaltungsprogramm sagt weiterhin „%(answer)s“.")
CLOSED = _l("Die Anfrage von %(address)s ist abgeschlossen.")
NO_REASON = _l("Bitte schreiben Sie der Person, warum (höchstens 1000 Zeichen).")


@bp.get("")
def listing(vhs: Vhs):
    """The VHS's help requests, open ones first."""
    return render_template("admin/help.html", vhs=vhs, requests=help.of_vhs(vhs),
                           OPEN=HelpState.OPEN)


def _back(vhs: Vhs) -> str:
    return url_for("admin.help.listing", slug=vhs.slug)


@bp.post("/<int:request_id>/pruefen")
def recheck(vhs: Vhs, help_request: HelpRequest):
    """Ask the program again now."""
    if help_request.state != HelpState.OPEN:
        return acts.done(CLOSED % {"address": help_request.address}, _back(vhs))
    outcome = help.recheck(help_request, gate.clearance().actor)
    words = {"address": help_request.address, "answer": labels.reason(outcome)}
    return acts.done((SOLVED if outcome == HelpState.SOLVED else STILL) % words, _back(vhs))


@bp.post("/<int:request_id>/erledigt")
def done(vhs: Vhs, help_request: HelpRequest):
    """The VHS helped otherwise (a phone call, a new address): close it."""
    if help_request.state == HelpState.OPEN:
        help.close(help_request, HelpState.DONE, gate.clearance().actor)
    return acts.done(CLOSED % {"address": help_request.address}, _back(vhs))


@bp.post("/<int:request_id>/ablehnen")
def reject(vhs: Vhs, help_request: HelpRequest):
    """Refuse it, with a reason that is mailed to the person."""
    reason = acts.text("reason")
    if not reason or len(reason) > help.MAX_MESSAGE:
        return acts.done(NO_REASON, _back(vhs), "error")
    if help_request.state == HelpState.OPEN:
        help.close(help_request, HelpState.REJECTED, gate.clearance().actor, reason=reason)
    return acts.done(CLOSED % {"address": help_request.address}, _back(vhs))
