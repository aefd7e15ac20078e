"""The pages of an upstream sign-in: leave for the itm:PORTAL, come back signed in.

What the callback needs (state, nonce, PKCE verifier, the VHS and the authorization to
resume) waits in the browser session between the two, for at most ten minutes.
"""

from __future__ import annotations

import time

from flask import Blueprint, current_app, redirect, render_template, request, session
from flask_babel import lazy_gettext

from adapters.base import AdapterUnavailable

from ... import authn, portals, tenants
from ...connectors import PortalUnavailable, UpstreamError
from ...identity import Refusal
from .. import signin
from .pages import safe_next

bp = Blueprint("upstream", __name__, url_prefix="/upstream")

PENDING_SECONDS = 600
FAILED = lazy_gettext("Die Anmeldung über das itm:PORTAL hat nicht geklappt. Bitte versuchen "
                      "Sie es noch einmal oder melden Sie sich mit Passwort an.")


def _failed(reason: str):
    current_app.logger.warning("upstream sign-in failed: %s", reason)
    return render_template("error.html", error="upstream", description=FAILED), 400


@bp.get("/<slug>/start")
def start(slug: str):
    """Leave for the VHS's itm:PORTAL."""
    vhs = tenants.onboarded(slug)
    upstream = portals.upstream_for(vhs) if vhs else None
    if upstream is None:
        return _failed(f"no onboarded VHS {slug[:63]!r} with an upstream provider")
    try:
        url, stash = upstream.login_url()
    except (PortalUnavailable, UpstreamError) as error:
        return _failed(str(error))
    session["upstream"] = {"vhs": vhs.slug, "stash": stash, "at": int(time.time()),
                           "next": safe_next(request.args.get("next"))}
    return redirect(url)


@bp.get("/callback")
def callback():
    """The portal's answer: check it, check eligibility, sign in, resume."""
    pending = session.pop("upstream", None)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        return _failed("no upstream sign-in is pending (or it took too long)")
    vhs = tenants.onboarded(pending["vhs"])
    upstream = portals.upstream_for(vhs) if vhs else None
    if upstream is None:
        return _failed("the VHS lost its upstream provider meanwhile")
    try:
        result = authn.admit(vhs, upstream.finish(request.args, request.url, pending["stash"]))
    except (PortalUnavailable, UpstreamError, AdapterUnavailable) as error:
        return _failed(f"{type(error).__name__}: {error}")
    if isinstance(result, Refusal):
        signin.refused(result)
        return _failed(result.reason)
    return signin.proceed(result, remember=False, next_url=safe_next(pending["next"]))
