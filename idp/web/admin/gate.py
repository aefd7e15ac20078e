"""Who may do what in the console, decided in one place for every page.

A request passes ``REQUIREMENTS`` in order; the first that is not met answers:
1. signed in here (else the login, coming back to the page);
2. holding a console role (else 403);
3. a session that used a second factor (``amr`` with ``mfa``): a role holder without a
   factor is sent to set one up, one with a factor to the second step, both coming
   back to the page;
4. for a change (any POST but a read-only one), a valid CSRF token (else 400) and a
   login no older than 15 minutes (else the login again, which says why, and then the
   confirmation of the same change: ``pending``).
Then the page's scope is resolved from its address, once, here: a view under
``/vhs/<slug>`` receives ``vhs`` (a VHS in the role's reach: 404 for an unknown one, 403
for another VHS's), one under ``.../people/<account_id>`` also ``account`` (a person of
that VHS, else 404), one under ``.../hilfe/<request_id>`` ``help_request`` (that VHS's,
else 404); it never sees a slug or an id, so it cannot forget the check.
ITEM's own pages ask ``operator()``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from flask import (
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from ... import accounts, factors, help, roles, tenants
from ...models import SsoSession, Vhs, now
from ...roles import Clearance
from ...sealing import SealError, seal, unseal
from .. import signin
from ..views import pages

FRESH_SECONDS = 15 * 60  # a change needs a login at most this old
PENDING = signin.PENDING_CHANGE  # the change that waits for a fresh login (sealed)
PENDING_SECONDS = 30 * 60
MAX_PENDING = 2000  # characters of the form's fields kept for it
STALE = _l("Diese Änderung braucht eine frische Anmeldung: Ihre letzte ist älter als 15 "
           "Minuten. Danach bestätigen Sie die Änderung mit einem Klick.")


def _back() -> str:
    """Where a refused request comes back to after the login: the page it was on."""
    if request.method == "GET":
        return pages.console_page(request.full_path.rstrip("?")) or url_for("admin.index")
    return pages.console_page(request.form.get("back")) or url_for("admin.index")


def _to_login():
    return redirect(url_for("views.login") + "?" + urlencode({"next": _back()}), 303)


def _signed_in(sso: SsoSession | None, clearance: Clearance | None):
    return _to_login() if sso is None else None


def _holds_role(sso: SsoSession | None, clearance: Clearance | None):
    return None if clearance is not None else abort(403)


def _second_factor(sso: SsoSession | None, clearance: Clearance | None):
    if factors.satisfied(sso.amr):
        return None
    return signin.step_up(sso, _back())


def _fresh_for_changes(sso: SsoSession | None, clearance: Clearance | None):
    if not _changing():
        return None
    try:  # first: only a form of ours may wait for the fresh login (``_again``)
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        return make_response(render_template("error.html", error="csrf",
                                             description=pages.EXPIRED), 400)
    if now() - sso.auth_time > FRESH_SECONDS:
        return _again(sso)
    return None


def _again(sso: SsoSession):
    """The change waits, sealed in the browser's session (it may hold a program's
    options), while the administrator signs in again; then ``pending`` offers it."""
    fields = [(name, value) for name, value in request.form.items(multi=True)
              if name != "csrf_token"]
    target = _back()
    if sum(len(name) + len(value) for name, value in fields) <= MAX_PENDING:
        session[PENDING] = seal({"path": request.path, "fields": fields, "at": now(),
                                 "account": sso.account_id}, "console-pending")
        target = url_for("admin.resume")
    session["login_notice"] = str(STALE)
    return redirect(url_for("views.login") + "?" + urlencode({"next": target}), 303)


def pending() -> dict | None:
    """The change that waited for the fresh login (once, within 30 minutes), or None."""
    sealed = session.pop(PENDING, None)
    try:
        found = unseal(sealed, "console-pending") if isinstance(sealed, str) else None
    except SealError:
        return None
    sso = signin.current()
    if not found or now() - found.get("at", 0) > PENDING_SECONDS or not str(
            found.get("path", "")).startswith("/admin/") or sso is None or found.get(
            "account") != sso.account_id:  # only for whoever began it
        return None
    return found


REQUIREMENTS: tuple[Callable, ...] = (_signed_in, _holds_role, _second_factor,
                                      _fresh_for_changes)


def _changing() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return request.method == "POST" and not getattr(view, "console_read_only", False)


def read_only(view: Callable) -> Callable:
    """Mark a POST view that changes nothing (a diagnosis): no fresh login needed."""
    view.console_read_only = True
    return view


def admit():
    """The blueprint's before_request: every requirement in order; the first unmet answers."""
    sso = signin.current()
    held = roles.clearance(sso.account) if sso is not None else None
    g.idp_console = held
    for requirement in REQUIREMENTS:
        answer = requirement(sso, held)
        if answer is not None:
            return answer
    _scope(request.view_args)
    return None


def _scope(args: dict | None) -> None:
    """Replace the address's ``slug`` (and ``account_id``) by the VHS (and person) the
    view acts on, or refuse: Flask hands ``request.view_args`` to the view."""
    if not args or "slug" not in args:
        return
    args["vhs"] = vhs(args.pop("slug"))
    if "account_id" in args:
        account = accounts.of_vhs(args["vhs"], args.pop("account_id"))
        if account is None:
            abort(404)
        args["account"] = account
    if "request_id" in args:
        asked = help.of_vhs_by_id(args["vhs"], args.pop("request_id"))
        if asked is None:
            abort(404)
        args["help_request"] = asked


def held() -> Clearance | None:
    """The console role behind this request, as ``admit`` found it (None: none)."""
    return g.get("idp_console")


def clearance() -> Clearance:
    """The role of the administrator behind this request (``admit`` checked it)."""
    found = held()
    if found is None:
        abort(403)
    return found


def fresh() -> bool:
    """Whether changes may be made without logging in again."""
    sso = signin.current()
    return sso is not None and now() - sso.auth_time <= FRESH_SECONDS


def vhs(slug: str) -> Vhs:
    """The VHS ``slug`` if the role reaches it: 404 for an unknown one, 403 for another's
    (the scope of a page's address; also a filter's VHS on ITEM's pages)."""
    try:
        found = tenants.find(slug)
    except tenants.TenantError:
        abort(404)
    if not clearance().covers(found):
        abort(403)
    return found


def operator() -> Clearance:
    """The ITEM operator behind this request; 403 for anyone else."""
    held = clearance()
    if not held.operator:
        abort(403)
    return held


def operators_only() -> None:
    """A before_request for ITEM's own pages: 403 for anyone but an operator."""
    operator()
