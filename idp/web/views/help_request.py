""""Meine VHS um Hilfe bitten": the page a help link of a mail opens (``idp.help``).

The link proves the mailbox and names the VHS and the address; the page shows no more
than the mail did. Sending it opens the request (or finds the open one).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField

from ... import help, links, tenants
from .pages import EXPIRED

bp = Blueprint("help_request", __name__)

TOO_LONG = lazy_gettext("Die Nachricht darf höchstens %(maximum)s Zeichen haben.",
                        maximum=help.MAX_MESSAGE)


class HelpForm(FlaskForm):
    """The link's token and an optional message."""

    t = HiddenField()
    message = TextAreaField()


def _page(form: HelpForm, status: int = 200, problem=None):
    found = links.help_of(form.t.data)
    if found is None:
        return render_template("link_problem.html", problem="help", purpose="help"), 400
    vhs = tenants.onboarded(found[0])
    if vhs is None:
        return render_template("link_problem.html", problem="help", purpose="help"), 400
    return render_template("help_request.html", form=form, vhs=vhs, address=found[1],
                           problem=problem), status


@bp.get(links.HELP_PATH)
def page():
    """The request, ready to send, with room for a message."""
    form = HelpForm(formdata=None, t=request.args.get("t", ""))
    return _page(form)


@bp.post(links.HELP_PATH)
def send():
    """Open the request; then say what happens next."""
    form = HelpForm()
    if not form.validate_on_submit():
        return _page(form, 400, EXPIRED)
    if len(form.message.data or "") > help.MAX_MESSAGE:
        return _page(form, 400, TOO_LONG)
    found = links.help_of(form.t.data)
    opened = help.ask(*found, form.message.data) if found else None
    if opened is None:
        return render_template("link_problem.html", problem="help", purpose="help"), 400
    return render_template("help_sent.html", vhs=opened.vhs)
