"""The second step of a sign-in, and "Mit Passkey anmelden".

After the password (``signin.proceed``) the person chooses how to confirm: the passkey
prompt, the code of the authenticator app, or a recovery code. Wrong codes are counted
per login attempt and per account (``idp.web.throttle``); the fifth wrong one of an attempt
ends it, back to the password. A passkey alone names the account itself, so no VHS is
chosen; the Verwaltungsprogramm is still asked.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField

from adapters.base import AdapterUnavailable

from ... import audit, db, factors, notices, passkeys
from ...authn import by_passkey
from ...identity import Reason, Refusal
from ...models import Account
from .. import signin
from ..throttle import claim_tag, throttle, trusted_device
from .forms import Problems
from .login import CHECK_UNAVAILABLE
from .pages import EXPIRED, TOO_MANY, allow_form_target, safe_next, wait_words

bp = Blueprint("second", __name__, url_prefix="/login")

WRONG_CODE = lazy_gettext("Der Code stimmt nicht oder wurde schon verwendet. Bitte geben Sie "
                          "den aktuellen Code ein.")
NO_CODE = lazy_gettext("Bitte geben Sie den Code ein.")
ATTEMPT_OVER = lazy_gettext("Zu viele falsche Codes. Bitte melden Sie sich noch einmal mit "
                            "Ihrem Passwort an.")
EXPIRED_STEP = lazy_gettext("Die Anmeldung hat zu lange gedauert. Bitte melden Sie sich noch "
                            "einmal an.")
PASSKEY_FAILED = lazy_gettext("Der Passkey konnte nicht geprüft werden. Bitte versuchen Sie es "
                              "noch einmal oder wählen Sie einen anderen Weg.")
PASSKEY_UNKNOWN = lazy_gettext("Mit diesem Passkey ist hier kein Zugang verbunden, oder er "
                               "wurde entfernt. Bitte melden Sie sich mit Passwort an.")
SIGN_IN_REFUSED = lazy_gettext("Die Anmeldung ist fehlgeschlagen. Bitte melden Sie sich mit "
                               "Passwort an.")


class CodeForm(FlaskForm):
    """A TOTP or recovery code."""

    method = HiddenField()
    code = StringField()


class PasskeyForm(FlaskForm):
    """The browser's answer to a WebAuthn request (filled in by static/passkeys.js)."""

    credential = HiddenField()
    next = HiddenField()


def _login_with(message) -> str:
    session["login_notice"] = str(message)
    return url_for("views.login")


def _ceremony(name: str, allowed: list | None) -> str:
    ceremony = passkeys.authentication(allowed)
    session[name] = {"challenge": ceremony.challenge, "at": ceremony.at}
    return ceremony.options


def _render(pending: dict, method: str, problems: Problems | None = None, status: int = 200):
    account = db.session().get(Account, pending.identity.account_id)
    if account is None:  # removed meanwhile
        session.pop("second_step", None)
        return redirect(url_for("views.login"), 303)
    have = factors.of(account)
    available = [m for m, ok in (("passkey", have.passkeys and passkeys.usable()),
                                 ("totp", have.totp is not None),
                                 ("recovery", have.recovery_left > 0)) if ok]
    if method not in available:
        method = available[0] if available else "recovery"
    options = _ceremony("second_ceremony", have.passkeys) if method == "passkey" else None
    allow_form_target(pending.next)
    page = render_template("second_step.html", method=method, available=available,
                           form=CodeForm(formdata=None, method=method),
                           passkey_form=PasskeyForm(formdata=None), options=options,
                           problems=problems or Problems(), step_up=pending.step_up)
    return current_app.make_response((page, status))


@bp.get("/zweiter-schritt")
def page():
    """Choose and use the second factor."""
    pending = signin.waiting()
    if pending is None:
        return redirect(_login_with(EXPIRED_STEP) if session.pop("second_step", None)
                        else url_for("views.login"), 303)
    return _render(pending, request.args.get("mit", "")[:10])


@bp.post("/zweiter-schritt")
def code():
    """A TOTP or recovery code."""
    pending = signin.waiting()
    form = CodeForm()
    if pending is None:
        return redirect(_login_with(EXPIRED_STEP), 303)
    method = form.method.data if form.method.data in ("totp", "recovery") else "totp"
    if not form.validate_on_submit():
        return _render(pending, method, Problems().add(None, EXPIRED), 400)
    identity = pending.identity
    claim, attempt = claim_tag(identity.vhs, identity.address), pending.attempt
    trusted = trusted_device(claim)
    typed = (form.code.data or "").strip()[:64]
    if not typed:
        return _render(pending, method, Problems().add("code", NO_CODE), 400)
    if throttle().code_attempt_over(attempt):
        return _attempt_over(identity)
    wait = throttle().code_wait(claim, trusted)
    if wait:
        audit.record("throttled", vhs=identity.vhs, sub=identity.sub, reason="second_step")
        response = _render(pending, method, Problems().add(
            None, TOO_MANY % {"wait": wait_words(wait)}), 429)
        response.headers["Retry-After"] = str(wait)
        return response
    if method == "totp" and factors.check_totp(identity.account_id, typed):
        throttle().code_succeeded(claim)
        return signin.second_step_done(pending, ("otp",), "totp")
    left = factors.use_recovery_code(identity.account_id, typed) \
        if method == "recovery" else None
    if left is not None:
        throttle().code_succeeded(claim)
        return signin.second_step_done(pending, ("otp",), "recovery_code", first=url_for(
            "second.recovery_used", next=pending.next or None))
    throttle().code_failed(claim, attempt, trusted)
    signin.refused(Refusal(reason=Reason.WRONG_CODE, via=method, vhs=identity.vhs,
                           address=identity.address), pending.next)
    if throttle().code_attempt_over(attempt):
        return _attempt_over(identity)
    return _render(pending, method, Problems().add("code", WRONG_CODE), 401)


def _attempt_over(identity: dict):
    """The attempt had all its wrong codes: back to the password, and the person is told
    that someone knows it (at most once a day)."""
    audit.record("throttled", vhs=identity.vhs, sub=identity.sub, reason="second_step")
    account = db.session().get(Account, identity.account_id)
    if account is not None:
        notices.wrong_codes(account)
    session.pop("second_step", None)
    return redirect(_login_with(ATTEMPT_OVER), 303)


@bp.post("/zweiter-schritt/passkey")
def passkey():
    """The passkey as the second factor."""
    pending = signin.waiting()
    form = PasskeyForm()
    ceremony = session.pop("second_ceremony", None) or {}
    if pending is None:
        return redirect(_login_with(EXPIRED_STEP), 303)
    if not form.validate_on_submit():
        return _render(pending, "passkey", Problems().add(None, EXPIRED), 400)
    identity = pending.identity
    try:
        _, amr = passkeys.authenticate(form.credential.data or "", ceremony.get("challenge", ""),
                                       ceremony.get("at"), identity.account_id)
    except passkeys.PasskeyError as error:
        current_app.logger.info("second step with a passkey refused: %s", error)
        signin.refused(Refusal(reason=Reason.PASSKEY_REFUSED, via="passkey",
                               vhs=identity.vhs, address=identity.address),
                       pending.next)
        return _render(pending, "passkey", Problems().add(None, PASSKEY_FAILED), 401)
    return signin.second_step_done(pending, amr, "passkey")


@bp.get("/passkey")
def passkey_page():
    """"Mit Passkey anmelden": the page that asks the browser for a discoverable passkey."""
    form = PasskeyForm(formdata=None)
    form.next.data = safe_next(request.args.get("next")) or ""
    return _passkey_page(form)


def _passkey_page(form: PasskeyForm, problems: Problems | None = None, status: int = 200):
    allow_form_target(form.next.data)
    options = _ceremony("passkey_ceremony", None) if passkeys.usable() else None
    page = render_template("passkey_login.html", form=form, options=options,
                           problems=problems or Problems())
    return current_app.make_response((page, status))


@bp.post("/passkey")
def passkey_login():
    """Sign in with a passkey alone: it names the account; eligibility is still checked."""
    form = PasskeyForm()
    ceremony = session.pop("passkey_ceremony", None) or {}
    next_url = safe_next(form.next.data)
    form.next.data = next_url or ""
    if not form.validate_on_submit():
        return _passkey_page(form, Problems().add(None, EXPIRED), 400)
    try:
        key, amr = passkeys.authenticate(form.credential.data or "",
                                         ceremony.get("challenge", ""), ceremony.get("at"), None)
    except passkeys.PasskeyError as error:
        current_app.logger.info("passkey sign-in refused: %s", error)
        audit.record("login_failed", source="passkey", reason=Reason.PASSKEY_REFUSED)
        unknown = isinstance(error, passkeys.UnknownCredential)
        return _passkey_page(form, Problems().add(
            None, PASSKEY_UNKNOWN if unknown else PASSKEY_FAILED), 401)
    try:
        result = by_passkey(db.session().get(Account, key.account_id), amr)
    except AdapterUnavailable:
        return _passkey_page(form, Problems().add(None, CHECK_UNAVAILABLE), 503)
    if isinstance(result, Refusal):
        signin.refused(result, next_url)
        return _passkey_page(form, Problems().add(None, SIGN_IN_REFUSED), 401)
    return signin.proceed(result, remember=False, next_url=next_url)


@bp.get("/wiederherstellungscode-verwendet")
def recovery_used():
    """After a recovery code: how many are left, and on to where the person was going."""
    sso = signin.current()
    if sso is None:
        return redirect(url_for("views.login"), 303)
    left = factors.of(sso.account).recovery_left
    return render_template("recovery_used.html", left=left,
                           next=safe_next(request.args.get("next")) or url_for("account.page"))
