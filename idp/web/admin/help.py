""""Hilfe-Anfragen": what people who could not get in asked their VHS (``idp.help``),
open ones first, each with the diagnosis as it was run; "jetzt erneut prüfen",
"erledigt", and "ablehnen" with a reason the person is sent. ITEM's queue (``queue``,
operators only): every VHS's requests that need ITEM, with "verknüpfen" for a
Kursmanagement-APP user."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, url_for
from flask_babel import lazy_gettext as _l

from ... import digest, help, labels, roles
from ...models import HelpRequest, HelpState, Vhs
from . import acts, gate

bp = Blueprint("help", __name__, url_prefix="/vhs/<slug>/hilfe")
queue = Blueprint("queue", __name__, url_prefix="/hilfe")
queue.before_request(gate.operators_only)

SOLVED = _l("%(address)s ist jetzt berechtigt: die E-Mail zum Passwort ist unterwegs.")
STILL = _l("%(address)s: das Verwaltungsprogramm sagt weiterhin „%(answer)s“.")
DISABLED = _l("%(address)s ist im Verwaltungsprogramm berechtigt, aber der Zugang ist hier "
              "gesperrt. Entsperren Sie ihn unter „Personen“, wenn die Person wieder "
              "hinein soll.")
CLOSED = _l("Die Anfrage von %(address)s ist abgeschlossen.")
NO_REASON = _l("Bitte schreiben Sie der Person, warum (höchstens 1000 Zeichen).")
DIGEST = {"de": _l("Sie bekommen die tägliche Zusammenfassung auf Deutsch."),
          "en": _l("Sie bekommen die tägliche Zusammenfassung auf Englisch."),
          "none": _l("Sie bekommen keine tägliche Zusammenfassung mehr.")}


@bp.get("")
def listing(vhs: Vhs):
    """The VHS's help requests, open ones first; an administrator's digest choice."""
    return render_template("admin/help.html", vhs=vhs, requests=help.of_vhs(vhs),
                           OPEN=HelpState.OPEN, digest=_own_role(vhs))


def _own_role(vhs: Vhs):
    """The administrator's own role at ``vhs`` (None for an operator or another VHS's)."""
    held = gate.clearance()
    return None if held.operator or held.vhs_id != vhs.id else roles.held_by(held.account_id)


@bp.post("/zusammenfassung")
def digest_choice(vhs: Vhs):
    """The administrator's own daily digest: German, English, or none."""
    role, choice = _own_role(vhs), acts.text("digest")
    if role is None or choice not in DIGEST:
        abort(400)
    digest.choose(role, None if choice == "none" else choice)
    acts.record(f"help digest {choice}", vhs=vhs.slug)
    return acts.done(DIGEST[choice], _back(vhs))


def _back(vhs: Vhs) -> str:
    return url_for("admin.help.listing", slug=vhs.slug)


@bp.post("/<int:request_id>/pruefen")
def recheck(vhs: Vhs, help_request: HelpRequest):
    """Ask the program again now."""
    if help_request.state != HelpState.OPEN:
        return acts.done(CLOSED % {"address": help_request.address}, _back(vhs))
    return _rechecked(help_request, help.recheck(help_request, gate.clearance().actor),
                      _back(vhs))


def _rechecked(help_request: HelpRequest, outcome: str, back: str):
    words = {"address": help_request.address, "answer": labels.reason(outcome)}
    said = {HelpState.SOLVED: SOLVED, "account_disabled": DISABLED}.get(outcome, STILL)
    return acts.done(said % words, back)


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


@queue.get("")
def waiting():
    """Every VHS's open requests that need ITEM, oldest first."""
    return render_template("admin/queue.html", requests=help.queue(), OPEN=HelpState.OPEN)


def _on_queued(request_id: int, act):
    """Run ``act(request, actor)`` on an open request of the queue; say what came of it."""
    asked = help.by_id(request_id)
    if asked is None:
        abort(404)
    back = url_for("admin.queue.waiting")
    if asked.state != HelpState.OPEN:
        return acts.done(CLOSED % {"address": asked.address}, back)
    return _rechecked(asked, act(asked, gate.clearance().actor), back)


def _link(asked: HelpRequest, actor: str) -> str:
    acts.record("kma link", vhs=asked.vhs.slug, address=asked.address)
    return help.link_kma(asked, actor)


@queue.post("/<int:request_id>/verknuepfen")
def link(request_id: int):
    """Link the Kursmanagement-APP user (done at ITEM) and re-check at once."""
    return _on_queued(request_id, _link)


@queue.post("/<int:request_id>/pruefen")
def queue_recheck(request_id: int):
    """Ask the program again now (a program that answers again)."""
    return _on_queued(request_id, help.recheck)
