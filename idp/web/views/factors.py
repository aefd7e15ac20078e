"""The person's second factors on ``/account/zweiter-faktor``: the authenticator app,
passkeys and security keys, recovery codes.

Rules: a first factor may be added by any signed-in person, and then counts for this
session (its ``amr`` gains it: the person just proved it) and comes with ten recovery
codes, shown once. With a factor in place, adding, removing or renewing anything needs a
session that used one (else the second step first), and removing the last factor a
login at most ``FRESH_SECONDS`` old (else the login again). Every change is mailed from
the VHS's server. ``next`` is where a policy sent the person from (a pending
authorization, a console page), to go on to once a factor is set up.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField

from ... import factors, passkeys
from ...models import SsoSession, now
from .. import signin
from .account import signed_in
from .forms import Problems
from .pages import EXPIRED, allow_form_target, safe_next

bp = Blueprint("factors", __name__, url_prefix="/account/zweiter-faktor")

FRESH_SECONDS = 15 * 60  # removing the last factor needs a login at most this old
WRONG_CODE = lazy_gettext("Der Code stimmt nicht. Bitte geben Sie den Code ein, den die App "
                          "gerade anzeigt.")
NO_NAME = lazy_gettext("Bitte geben Sie dem Passkey einen Namen, zum Beispiel „Laptop“.")
LONG_NAME = lazy_gettext("Der Name darf höchstens %(maximum)s Zeichen haben.",
                         maximum=passkeys.NAME_LENGTH)
PASSKEY_FAILED = lazy_gettext("Der Passkey konnte nicht gespeichert werden. Bitte versuchen Sie "
                              "es noch einmal.")
QR_TITLE = lazy_gettext("QR-Code zum Einrichten der Authenticator-App")
DONE = {
    "totp_added": lazy_gettext("Die Authenticator-App ist eingerichtet."),
    "totp_removed": lazy_gettext("Die Authenticator-App wurde entfernt."),
    "passkey_added": lazy_gettext("Der Passkey ist gespeichert."),
    "passkey_removed": lazy_gettext("Der Passkey wurde entfernt."),
    "recovery": lazy_gettext("Ihre neuen Wiederherstellungscodes. Die bisherigen gelten nicht "
                             "mehr."),
}


class FactorForm(FlaskForm):
    """A factor form: a code, a passkey's name and the browser's answer, where it goes on."""

    code = StringField()
    name = StringField()
    credential = HiddenField()
    next = HiddenField()


def _signed_in() -> SsoSession:
    return signed_in(url_for("factors.page"))


def _next() -> str | None:
    return safe_next(request.values.get("next"))


def _changing(last: bool = False) -> SsoSession:
    """A POST that changes the factors: CSRF, a session that used a factor if there is
    one, and a fresh login to remove the last."""
    sso = _signed_in()
    if not FlaskForm().validate_on_submit():
        abort(current_app.make_response((render_template(
            "error.html", error="csrf", description=EXPIRED), 400)))
    if factors.has_any(sso.account_id) and not factors.satisfied(sso.amr):
        abort(signin.step_up(sso, url_for("factors.page")))
    if last and now() - sso.auth_time > FRESH_SECONDS:
        abort(redirect(url_for("views.login", next=url_for("factors.page")), 303))
    return sso


def _render(sso: SsoSession, problems: Problems | None = None, status: int = 200, notice=None,
            codes: list[str] | None = None, go_on: str | None = None):
    account = sso.account
    have = factors.of(account)
    secret = factors.setup_secret(have)
    uri = factors.provisioning_uri(account, secret) if secret else None
    may_add = not have.any or factors.satisfied(sso.amr)
    usable = passkeys.usable()
    options = None
    if may_add and usable:
        ceremony = passkeys.registration(account, have.passkeys)
        session["register_ceremony"] = {"challenge": ceremony.challenge, "at": ceremony.at}
        options = ceremony.options
    next_url = go_on or _next()
    allow_form_target(next_url)
    form = FactorForm(formdata=None, next=next_url or "")
    page = render_template(
        "factors.html", sso=sso, account=account, have=have, secret=secret, uri=uri,
        qr=factors.qr_code(uri, str(QR_TITLE)) if uri else None, may_add=may_add,
        options=options, passkeys_usable=usable, form=form,
        problems=problems or Problems(), notice=notice, codes=codes, next_url=next_url,
        required=factors.required(account) or None,
        fresh=now() - sso.auth_time <= FRESH_SECONDS)
    return current_app.make_response((page, status))


@bp.get("")
def page():
    """The factors, and where a policy sent the person from."""
    return _render(_signed_in())


@bp.get("/bestaetigen")
def confirm_session():
    """Confirm this session with a factor before changing the factors."""
    return signin.step_up(_signed_in(), url_for("factors.page"))


@bp.post("/app")
def totp_start():
    """Begin setting up the authenticator app: the QR code and the secret."""
    sso = _changing()
    if factors.of(sso.account).totp is None:
        factors.begin_totp(sso.account)
    return _render(sso)


@bp.post("/app/bestaetigen")
def totp_confirm():
    """The first code from the app: then it counts."""
    sso = _changing()
    form = FactorForm()
    first = not factors.has_any(sso.account_id)
    if not factors.confirm_totp(sso.account, form.code.data or ""):
        return _render(sso, Problems().add("code", WRONG_CODE), 400)
    return _added(sso, first, ("otp",), "totp_added")


@bp.post("/app/entfernen")
def totp_remove():
    """Remove the authenticator app (or stop setting it up)."""
    sso = _signed_in()
    have = factors.of(sso.account)
    sso = _changing(last=have.totp is not None and have.count == 1)
    if factors.remove_totp(sso.account) and have.totp is not None:
        factors.removed(sso.account, "totp_removed")
        return _render(sso, notice=DONE["totp_removed"])
    return _render(sso)


@bp.post("/passkeys")
def passkey_add():
    """A new passkey or security key, with the name the person gave it."""
    sso = _changing()
    form = FactorForm()
    ceremony = session.pop("register_ceremony", None) or {}
    name = passkeys.clean_name(form.name.data)
    problems = Problems()
    if not name:
        problems.add("passkey-name", NO_NAME)
    elif len(name) > passkeys.NAME_LENGTH:
        problems.add("passkey-name", LONG_NAME)
    if problems:
        return _render(sso, problems, 400)
    first = not factors.has_any(sso.account_id)
    try:
        passkeys.register(sso.account, form.credential.data or "", ceremony.get("challenge", ""),
                          ceremony.get("at"), name)
    except passkeys.PasskeyError as error:
        current_app.logger.info("passkey registration refused: %s", error)
        return _render(sso, Problems().add(None, PASSKEY_FAILED), 400)
    factors.changed(sso.account, "passkey_added")
    return _added(sso, first, ("hwk", "user"), "passkey_added")


@bp.post("/passkeys/<int:passkey_id>/entfernen")
def passkey_remove(passkey_id: int):
    """Remove one passkey."""
    sso = _signed_in()
    have = factors.of(sso.account)
    if not any(p.id == passkey_id for p in have.passkeys):
        abort(404)
    sso = _changing(last=have.count == 1)
    factors.remove_passkey(sso.account, passkey_id)
    factors.removed(sso.account, "passkey_removed")
    return _render(sso, notice=DONE["passkey_removed"])


@bp.post("/wiederherstellungscodes")
def recovery_codes():
    """Ten new recovery codes, shown once; the old ones stop working."""
    sso = _changing()
    if not factors.has_any(sso.account_id):
        abort(404)
    return _render(sso, notice=DONE["recovery"], codes=factors.new_recovery_codes(sso.account))


def _added(sso: SsoSession, first: bool, methods: tuple[str, ...], what: str):
    """After a factor was added: the first one counts for this session and brings the
    recovery codes, shown now and never again."""
    codes = None
    next_url = _next()
    if first:
        signin.raise_session(sso, factors.with_factor(sso.amr, methods), next_url, what)
        codes = factors.new_recovery_codes(sso.account)
    return _render(sso, notice=DONE[what], codes=codes, go_on=next_url)
