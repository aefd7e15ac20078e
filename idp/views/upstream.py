"""The pages of an upstream sign-in: leave for the itm:PORTAL, come back signed in."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, current_app, redirect, render_template, request
from flask_babel import lazy_gettext

from .. import eligibility, portals, sessions, upstream
from ..authn import identity_of
from ..connectors.base import PortalIdentity
from ..models import Account, Vhs
from ..protocol import mark_fresh_login
from .login import safe_next

bp = Blueprint("upstream", __name__, url_prefix="/upstream")

FAILED = lazy_gettext("Die Anmeldung über das itm:PORTAL hat nicht geklappt. Bitte versuchen "
                      "Sie es noch einmal oder melden Sie sich mit Passwort an.")


def _failed(error: Exception):
    current_app.logger.warning("upstream sign-in failed: %s", error)
    return render_template("error.html", error="upstream", description=FAILED), 400


@bp.get("/<slug>/start")
def start(slug: str):
    """Leave for the VHS's itm:PORTAL."""
    from .. import db

    vhs = db.session().query(Vhs).filter_by(slug=slug[:63], onboarded=True).one_or_none()
    if vhs is None:
        return _failed(upstream.UpstreamError(f"no onboarded VHS {slug!r}"))
    try:
        return redirect(upstream.start(vhs, safe_next(request.args.get("next"))))
    except upstream.UpstreamError as error:
        return _failed(error)


@bp.get("/callback")
def callback():
    """The portal's answer: check it, check eligibility, sign in, resume."""
    try:
        person, next_url = upstream.finish(request.args, request.url)
    except upstream.UpstreamError as error:
        return _failed(error)
    from .. import db

    try:
        allowed = eligibility.allows(person.vhs, person.address)
    except eligibility.CheckUnavailable as error:
        return _failed(error)
    if not allowed:
        return _failed(upstream.UpstreamError("not eligible in the Verwaltungsprogramm"))
    account = db.session().query(Account).filter_by(vhs_id=person.vhs.id,
                                                    address=person.address).one_or_none()
    if account is not None and account.status == "disabled":
        return _failed(upstream.UpstreamError("account disabled"))
    account, switched = portals.portal_account(
        person.vhs, account, person.address,
        PortalIdentity(user_id=person.subject, name=person.name, email=person.address))
    if switched:
        from ..selfservice import mail_source_switched

        mail_source_switched(account)
    db.session().commit()
    identity = replace(identity_of(account), amr=person.amr or ("fed",))
    sso, secret = sessions.start(identity, remember=False)
    next_url = safe_next(next_url)
    if next_url:
        mark_fresh_login(next_url)
    response = redirect(next_url or "/", 303)
    sessions.set_cookie(response, sso, secret)
    return response
