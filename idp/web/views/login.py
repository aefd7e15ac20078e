"""The login page (words and layout from the help page) and the start page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, current_app, render_template, request, session
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, StringField

from adapters.address import clean
from adapters.base import AdapterUnavailable

from ... import audit, passkeys, tenants
from ...authn import authenticate
from ...identity import Reason, Refusal
from .. import signin
from ..throttle import claim_tag, throttle, trusted_device
from .forms import (
    LogoutForm,
    Problems,
    check_address,
    check_password,
    check_vhs,
    preselected,
    remember_vhs,
    vhs_field,
)
from .pages import EXPIRED, TOO_MANY, allow_form_target, console_page, safe_next, wait_words

HELP_ADDRESS = "help_address"  # the address of a refused sign-in, for the help form
bp = Blueprint("views", __name__)

FAILED = lazy_gettext("Die Anmeldung ist fehlgeschlagen. Bitte prüfen Sie die gewählte VHS, "
                      "die E-Mail-Adresse und das Passwort.")
CHECK_UNAVAILABLE = lazy_gettext(
    "Ihre Berechtigung kann gerade nicht bei Ihrer VHS geprüft werden. Bitte versuchen Sie es "
    "später noch einmal.")
PORTAL_DOWN = lazy_gettext(
    "Das itm:PORTAL Ihrer VHS, mit dessen Zugang Sie sich anmelden, ist gerade nicht "
    "erreichbar. Bitte versuchen Sie es später noch einmal.")


class LoginForm(FlaskForm):
    """Bitte VHS auswählen, E-Mail-Adresse, Passwort, Angemeldet bleiben.

    The VHS field is posted as ``tenant`` (relying parties and password managers know
    that name); in the code it is ``vhs``.
    """

    vhs = vhs_field()
    email = StringField()
    password = PasswordField()
    remember = BooleanField()
    next = HiddenField()


def from_request(next_url: str | None, name: str) -> str:
    """A parameter of the pending authorization request (login_hint, vhs)."""
    if not next_url:
        return ""
    values = parse_qs(urlsplit(next_url).query).get(name) or [""]
    return values[0][:320]


def _render(form: LoginForm, problems: Problems | None = None, status: int = 200,
            refused: bool = False):
    allow_form_target(form.next.data)
    brokered = [vhs for vhs in tenants.listed() if vhs.brokered]
    page = render_template("login.html", form=form, problems=problems or Problems(),
                           brokered=brokered, passkeys_usable=passkeys.usable(),
                           refused=refused)
    return current_app.make_response((page, status))


def _throttled(form: LoginForm, wait: int, vhs: str, address: str):
    audit.record("throttled", vhs=vhs, address=address, reason="sign_in",
                 client=signin.client_of(form.next.data))
    response = _render(form, Problems().add(None, TOO_MANY % {"wait": wait_words(wait)}), 429)
    response.headers["Retry-After"] = str(wait)
    return response


@bp.get("/login")
def login():
    """Show the login form, with the VHS and address the relying party suggests."""
    form = LoginForm(formdata=None)
    form.next.data = safe_next(request.args.get("next")) or ""
    # from the second step: why again (popped only if there: no new cookie otherwise)
    notice = session.pop("login_notice") if "login_notice" in session else None
    form.email.data = from_request(form.next.data, "login_hint")
    form.vhs.data = preselected(from_request(form.next.data, "vhs"))
    if console_page(form.next.data):  # the console asks to log in again
        sso = signin.current()
        if sso is not None:
            form.email.data, form.vhs.data = sso.account.address, sso.account.vhs.slug
    return _render(form, Problems().add(None, notice) if notice else None)


@bp.post("/login")
def login_submit():
    """Check the form (every problem at once), then the password; one message for every
    refusal. A VHS from the list is remembered as the person's choice (a cookie)."""
    form = LoginForm()
    response = _submit(form)
    if response.status_code != 400:
        remember_vhs(response, form.vhs.data or "")
    return response


def _submit(form: LoginForm):
    next_url = safe_next(form.next.data)
    form.next.data = next_url or ""
    vhs, email = (form.vhs.data or "")[:63], form.email.data or ""
    password = form.password.data or ""
    form.password.data = ""
    problems = Problems()
    if not form.validate_on_submit():
        return _render(form, problems.add(None, EXPIRED), 400)
    check_vhs(problems, vhs)
    check_address(problems, email)
    check_password(problems, password)
    if problems:
        return _render(form, problems, 400)
    address = clean(email).value
    claim, ip = claim_tag(vhs, address), request.remote_addr or ""
    trusted = trusted_device(claim)
    wait = throttle().sign_in_wait(claim, ip, trusted)
    if wait:
        return _throttled(form, wait, vhs, address)
    try:
        result = authenticate(vhs, email, password)
    except AdapterUnavailable as error:
        current_app.logger.warning("sign-in at vhs %r: program unavailable: %s", vhs, error)
        return _render(form, problems.add(None, CHECK_UNAVAILABLE), 503)
    if isinstance(result, Refusal):
        throttle().sign_in_failed(claim, ip, trusted)
        signin.refused(result, next_url)
        if result.reason == Reason.PORTAL_UNAVAILABLE:  # said alike for every address
            return _render(form, problems.add(None, PORTAL_DOWN), 503)
        session[HELP_ADDRESS] = email[:320]  # "Meine VHS um Hilfe bitten" fills it in
        return _render(form, problems.add(None, FAILED), 401, refused=True)
    return signin.proceed(result, remember=bool(form.remember.data), next_url=next_url)


@bp.get("/")
def index():
    """Who is signed in here, with a logout button; or the way to the login."""
    return render_template("index.html", sso=signin.current(), form=LogoutForm())
