"""The VHS console under ``/admin``: each VHS's administrators see and fix their own
people's access; ITEM's operators run every VHS from here.

Every page passes the gate (``gate.admit``: login, role, fresh login and CSRF for
changes). Every action calls the same domain function as the command line and leaves
an audit event naming the administrator (``acts``). Pages: ``people`` (accounts, their
sessions and mails), ``vhs`` (diagnosis, access requests, KMA links, mail server,
program), ``help`` (the VHS's help requests; ITEM's queue of those that need ITEM),
``item`` (onboarding, settings, relying parties, keys, outbox, audit trail, dashboard:
ITEM operators only).
"""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from ... import help as help_requests
from ... import labels, tenants
from .. import signin
from ..views import pages
from ..views.forms import ActionForm
from . import gate, help, item, people, vhs

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(gate.admit)
bp.register_blueprint(people.bp)
bp.register_blueprint(vhs.bp)
bp.register_blueprint(help.bp)
bp.register_blueprint(help.queue)
bp.register_blueprint(item.bp)


@bp.context_processor
def _console() -> dict:
    if gate.held() is None:  # an error page for someone the gate turned away
        return {}
    return {"held": gate.held(), "console_fresh": gate.fresh(),
            "action_form": ActionForm(), "detail_label": labels.detail,
            "service_name": labels.service, "vhs_name": labels.vhs_name,
            "here": pages.console_page(request.full_path.rstrip("?")) or url_for("admin.index")}


@bp.errorhandler(403)
def _no_access(error):
    """A signed-in person the console turns away: who may use it and whom to ask."""
    sso, held = signin.current(), gate.held()
    vhs_name = tenants.find(held.vhs_slug).name if held is not None else ""
    return render_template("admin/no_access.html", held=held, held_vhs=vhs_name,
                           address=sso.account.address if sso else ""), 403


@bp.get("/")
def index():
    """An administrator's own VHS; for an operator, every VHS."""
    held = gate.clearance()
    if not held.operator:
        return redirect(url_for("admin.people.listing", slug=held.vhs_slug), 303)
    query = request.args.get("q", "")[:100]
    chosen = {name for name in FILTERS if request.args.get(name)}
    waiting = help_requests.open_counts()
    shown = [place for place in tenants.every() if tenants.finds(query, place.name)
             and ("onboarded" not in chosen or place.onboarded)
             and ("program" not in chosen or place.adapter)
             and ("open" not in chosen or waiting.get(place.id))]
    return render_template("admin/index.html", every=shown, query=query, chosen=chosen,
                           filters=FILTERS, waiting=waiting)


FILTERS = {"onboarded": _l("in der Auswahlliste"), "program": _l("mit Verwaltungsprogramm"),
           "open": _l("mit offenen Hilfe-Anfragen")}


@bp.get("/fortsetzen")
def resume():
    """After a fresh login: the change that waited for it, to confirm with one click."""
    waiting = gate.pending()
    if waiting is None:
        return redirect(url_for("admin.index"), 303)
    fields = waiting["fields"]
    label = next((value for name, value in fields if name == "action_label"), None)
    back = next((value for name, value in fields if name == "back"), None)
    return render_template("admin/resume.html", path=waiting["path"], fields=fields,
                           label=label, back=pages.console_page(back))


def init_app(app: Flask) -> None:
    """Register the console."""
    app.register_blueprint(bp)
