"""The login page (words and layout from the help page) and the start page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext, lazy_gettext, ngettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField, SubmitField

from adapters.address import clean
from adapters.base import AdapterUnavailable

from .. import audit, signin, tenants
from ..authn import authenticate
from ..connectors import PortalUnavailable
from ..identity import Refusal
from ..passwords import MAX_LENGTH
from ..protocol import EXPIRED, LogoutForm, allow_form_target
from ..throttle import account_key, throttle, trusted_device

bp = Blueprint("views", __name__)

FAILED = lazy_gettext("Die Anmeldung ist fehlgeschlagen. Bitte prüfen Sie die gewählte vhs, "
                      "die E-Mail-Adresse und das Passwort.")
TOO_MANY = lazy_gettext("Zu viele fehlgeschlagene Anmeldeversuche. Bitte warten Sie "
                        "%(wait)s und versuchen Sie es dann erneut. „Passwort vergessen“ "
                        "geht jederzeit.")
CHECK_UNAVAILABLE = lazy_gettext(
    "Ihre Berechtigung kann gerade nicht bei Ihrer vhs geprüft werden. Bitte versuchen Sie es "
    "später noch einmal.")
PORTAL_DOWN = lazy_gettext(
    "Das itm:PORTAL Ihrer vhs, mit dessen Zugang Sie sich anmelden, ist gerade nicht "
    "erreichbar. Bitte versuchen Sie es später noch einmal.")
NO_VHS = lazy_gettext("Bitte wählen Sie Ihre vhs aus.")
NO_EMAIL = lazy_gettext("Bitte geben Sie Ihre E-Mail-Adresse ein.")
NO_PASSWORD = lazy_gettext("Bitte geben Sie Ihr Passwort ein.")


class LoginForm(FlaskForm):
    """Bitte vhs auswählen, E-Mail-Adresse, Passwort, Angemeldet bleiben.

    The VHS field is posted as ``tenant`` (relying parties and password managers know
    that name); in the code it is ``vhs``.
    """

    vhs = SelectField("vhs", name="tenant", validate_choice=False)
    email = StringField("E-Mail-Adresse")
    password = PasswordField("Passwort")
    remember = BooleanField("Angemeldet bleiben")
    next = HiddenField()
    submit = SubmitField("Anmelden")


def safe_next(value: str | None) -> str | None:
    """Only a pending authorization request of ours may be resumed (no open redirect)."""
    prefix = url_for("protocol.authorize") + "?"
    if value and value.startswith(prefix) and "\\" not in value and len(value) <= 8192:
        return value
    if value == url_for("account.page"):
        return value
    return None


def _from_request(next_url: str | None, name: str) -> str:
    """A parameter of the pending authorization request (login_hint, vhs)."""
    if not next_url:
        return ""
    values = parse_qs(urlsplit(next_url).query).get(name) or [""]
    return values[0][:320]


def vhs_choices(prompt: str) -> list[tuple[str, str]]:
    """The drop-down: a prompt, then every onboarded VHS."""
    return [("", prompt)] + [(vhs.slug, vhs.name) for vhs in tenants.listed()]


def _render(form: LoginForm, message: str | None = None, status: int = 200):
    allow_form_target(form.next.data)
    form.vhs.choices = vhs_choices(gettext("Bitte vhs auswählen"))
    brokered = [vhs for vhs in tenants.listed() if vhs.upstream_config]
    return render_template("login.html", form=form, message=message,
                           brokered=brokered), status


def wait_words(seconds: int) -> str:
    """A wait in words: "30 Sekunden", "2 Minuten"."""
    if seconds < 90:
        return ngettext("%(num)s Sekunde", "%(num)s Sekunden", seconds)
    minutes = (seconds + 59) // 60
    return ngettext("%(num)s Minute", "%(num)s Minuten", minutes)


def _throttled(form: LoginForm, wait: int, vhs: str, address: str):
    audit.record("throttled", vhs=vhs, address=address, reason="sign_in",
                 client=signin.client_of(form.next.data))
    page, status = _render(form, TOO_MANY % {"wait": wait_words(wait)}, 429)
    response = current_app.make_response((page, status))
    response.headers["Retry-After"] = str(wait)
    return response


@bp.get("/login")
def login():
    """Show the login form, pre-filled from ``login_hint``."""
    form = LoginForm(formdata=None)
    form.next.data = safe_next(request.args.get("next")) or ""
    form.email.data = _from_request(form.next.data, "login_hint")
    form.vhs.data = _from_request(form.next.data, "vhs")
    return _render(form)


@bp.post("/login")
def login_submit():
    """Check the form, then the password; one message for every refusal."""
    form = LoginForm()
    next_url = safe_next(form.next.data)
    form.next.data = next_url or ""
    vhs, email = form.vhs.data or "", form.email.data or ""
    password = form.password.data or ""
    form.password.data = ""
    if not form.validate_on_submit():
        return _render(form, EXPIRED, 400)
    if not vhs:
        return _render(form, NO_VHS, 400)
    if not email.strip():
        return _render(form, NO_EMAIL, 400)
    if not password:
        return _render(form, NO_PASSWORD, 400)
    if len(email) > 1000 or len(password) > MAX_LENGTH or len(vhs) > 63:
        return _render(form, FAILED, 401)
    address = clean(email).value
    account, ip = account_key(vhs, address), request.remote_addr or ""
    trusted = trusted_device(account)
    wait = throttle().sign_in_wait(account, ip, trusted)
    if wait:
        return _throttled(form, wait, vhs, address)
    try:
        result = authenticate(vhs, email, password)
    except AdapterUnavailable as error:
        current_app.logger.warning("sign-in at vhs %r: program unavailable: %s", vhs, error)
        return _render(form, CHECK_UNAVAILABLE, 503)
    except PortalUnavailable as error:
        current_app.logger.warning("sign-in at vhs %r: itm:PORTAL unavailable: %s", vhs, error)
        return _render(form, PORTAL_DOWN, 503)
    if isinstance(result, Refusal):
        throttle().sign_in_failed(account, ip, trusted)
        signin.refused(result, next_url)
        return _render(form, FAILED, 401)
    return signin.finish(result, remember=bool(form.remember.data), next_url=next_url)


@bp.get("/")
def index():
    """Who is signed in here, with a logout button; or the way to the login."""
    return render_template("index.html", sso=signin.current(), form=LogoutForm())
