"""The self-service pages: "Neuer Zugang", activation, "Passwort vergessen", the new
password, and the help for people who get stuck ("Meine VHS um Hilfe bitten" mails the
link that opens a help request, so the mailbox is proven first)."""

from __future__ import annotations

import functools
import time

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import get_locale, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField

from adapters.address import clean
from adapters.base import AdapterUnavailable

from ... import audit, authn, clients, links, privacy, selfservice, tenants
from ...connectors import PortalUnavailable
from ...identity import Refusal
from ...models import Purpose, digest
from ...password_policy import refusals
from .. import signin
from .forms import (
    LAST_VHS_COOKIE,
    Problems,
    check_address,
    check_vhs,
    preselected,
    remember_vhs,
    vhs_field,
)
from .login import HELP_ADDRESS
from .pages import EXPIRED, allow_form_target, safe_next, wait_words

bp = Blueprint("access", __name__)

UNAVAILABLE = lazy_gettext("Der Zugang konnte nicht angefordert werden. Die Verwaltung Ihrer "
                           "VHS ist gerade nicht erreichbar; bitte versuchen Sie es später "
                           "noch einmal.")
MOVE_UNAVAILABLE = lazy_gettext("Die neue Adresse konnte nicht übernommen werden. Die "
                                "Verwaltung Ihrer VHS ist gerade nicht erreichbar; bitte "
                                "versuchen Sie es später noch einmal.")
RESET_UNAVAILABLE = lazy_gettext("Das Zurücksetzen konnte nicht angefordert werden. Bitte "
                                 "versuchen Sie es später noch einmal.")
TOO_MANY = lazy_gettext("Zu viele Anfragen für diese Adresse oder von Ihrem Netz. Bitte "
                        "warten Sie %(wait)s und versuchen Sie es dann erneut.")
STARTED = "link_requests"  # the browser session's pending requests its link mails resume
TEMPLATES = {"access.new_access_submit": "new_access.html",
             "access.forgot_password_submit": "forgot_password.html",
             "access.ask_help_submit": "ask_help.html"}


class AddressForm(FlaskForm):
    """VHS and address, for "Neuer Zugang" and "Passwort vergessen"."""

    vhs = vhs_field()
    email = StringField()
    next = HiddenField()


class TokenForm(FlaskForm):
    """A link's token, to confirm what the link is for (a mover's new address)."""

    token = HiddenField()


class PasswordForm(FlaskForm):
    """The new password, twice, with the link's token."""

    token = HiddenField()
    password = PasswordField()
    confirm = PasswordField()


def _address_page(template: str, form: AddressForm, problems: Problems | None = None,
                  status: int = 200):
    page = render_template(template, form=form, problems=problems or Problems())
    return current_app.make_response((page, status))


def _address_form(template: str, address: str | None = None):
    form = AddressForm(formdata=None)
    form.next.data = safe_next(request.args.get("next")) or ""
    form.vhs.data = preselected(None)
    form.email.data = address if isinstance(address, str) else None
    return _address_page(template, form)


def _checked_address_form(template: str):
    """The posted form, or the page to show again; (form, None) when it can be used."""
    form = AddressForm()
    form.next.data = safe_next(form.next.data) or ""
    problems = Problems()
    if not form.validate_on_submit():
        return form, _address_page(template, form, problems.add(None, EXPIRED), 400)
    check_vhs(problems, form.vhs.data or "")
    check_address(problems, form.email.data or "")
    if problems:
        return form, _address_page(template, form, problems, 400)
    return form, None


def too_many(wait: int):
    """The form again, filled in, saying how long to wait (the same for every address)."""
    form = AddressForm()
    form.next.data = safe_next(form.next.data) or ""
    audit.record("throttled", vhs=(form.vhs.data or "")[:63],
                 address=clean((form.email.data or "")[:1000]).value, reason="self_service")
    response = _address_page(TEMPLATES[request.endpoint], form,
                             Problems().add(None, TOO_MANY % {"wait": wait_words(wait)}), 429)
    response.headers["Retry-After"] = str(wait)
    return response


def _answer_at_fixed_time(view):
    """Answer no earlier than IDP_SELFSERVICE_ANSWER_SECONDS after the request came in.

    Known addresses cost more (the program's exact match, a link, an outbox row) than
    unknown ones (a miss, maybe a scan), and the difference is measurable (bench/
    access_timing.py). Waiting until a fixed moment makes every answer take the same time.
    """
    @functools.wraps(view)
    def timed(*args, **kwargs):
        started = time.monotonic()
        response = view(*args, **kwargs)
        floor = current_app.config["SELFSERVICE_ANSWER_SECONDS"]
        left = floor - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)
        elif floor:
            current_app.logger.warning("%s took %.3f s, more than the fixed answer time",
                                       request.path, time.monotonic() - started)
        return response
    return timed


@bp.get("/neuer-zugang")
def new_access():
    """The "Neuer Zugang" form."""
    return _address_form("new_access.html")


@bp.post("/neuer-zugang")
@_answer_at_fixed_time
def new_access_submit():
    """One answer for every well-formed address; what happens behind it goes by mail."""
    form, page = _checked_address_form("new_access.html")
    if page:
        return page
    try:
        selfservice.request_access(form.vhs.data, form.email.data, str(get_locale()),
                                   form.next.data or None)
    except (AdapterUnavailable, PortalUnavailable) as error:
        current_app.logger.warning("access request at vhs %r unavailable: %s",
                                   form.vhs.data[:63], error)
        return _address_page("new_access.html", form, Problems().add(None, UNAVAILABLE), 503)
    _remember_request(form.next.data)
    return remember_vhs(current_app.make_response(render_template(
        "request_sent.html", kind="access", next=form.next.data)), form.vhs.data)


@bp.get("/passwort-vergessen")
def forgot_password():
    """The "Passwort vergessen" form."""
    return _address_form("forgot_password.html")


@bp.post("/passwort-vergessen")
@_answer_at_fixed_time
def forgot_password_submit():
    """One answer for every well-formed address; a reset link only for an active account."""
    form, page = _checked_address_form("forgot_password.html")
    if page:
        return page
    try:
        selfservice.request_reset(form.vhs.data, form.email.data, str(get_locale()),
                                  form.next.data or None)
    except PortalUnavailable as error:
        current_app.logger.warning("reset request at vhs %r unavailable: %s",
                                   form.vhs.data[:63], error)
        return _address_page("forgot_password.html", form,
                             Problems().add(None, RESET_UNAVAILABLE), 503)
    _remember_request(form.next.data)
    return remember_vhs(current_app.make_response(render_template(
        "request_sent.html", kind="reset", next=form.next.data)), form.vhs.data)


@bp.get("/hilfe/bitten")
def ask_help():
    """The "Meine VHS um Hilfe bitten" form: VHS and address (the address of a sign-in
    just refused in this browser is filled in)."""
    return _address_form("ask_help.html", session.pop(HELP_ADDRESS, None))


@bp.post("/hilfe/bitten")
@_answer_at_fixed_time
def ask_help_submit():
    """One answer for every well-formed address: the link that opens the request goes to
    the mailbox (at most once a day)."""
    form, page = _checked_address_form("ask_help.html")
    if page:
        return page
    selfservice.offer_help(form.vhs.data, form.email.data, str(get_locale()))
    return remember_vhs(current_app.make_response(render_template(
        "request_sent.html", kind="help", next=form.next.data)), form.vhs.data)


@bp.get("/hilfe")
def help():
    """"Probleme bei der Anmeldung?": the help page's checklist and who to ask."""
    return render_template("help.html", next=safe_next(request.args.get("next")) or "")


@bp.get("/datenschutz")
def privacy_notice():
    """"Datenschutzhinweise": made from the running configuration (idp.privacy); a VHS's own
    contacts for the VHS asked for, or the one last chosen in this browser."""
    slug = (request.args.get("vhs") or request.cookies.get(LAST_VHS_COOKIE) or "")[:63]
    vhs = tenants.onboarded(slug) if slug else None
    return render_template("privacy_notice.html", notice=privacy.notice(vhs), vhs=vhs)


def _remember_request(next_url: str | None) -> None:
    """This browser asked for a link while a relying party's request was pending: the link,
    opened here, resumes that request (the last three are kept, as digests)."""
    if next_url:
        session[STARTED] = [*session.get(STARTED, [])[-2:], digest(next_url)]


def _resumable(next_url: str | None) -> str | None:
    """The pending request a link carries, if this browser started it. In another browser
    (the mail read on a phone) the relying party would refuse the answer, since its
    ``state`` was never sent from there; the person goes to the service instead."""
    return next_url if next_url and digest(next_url) in session.get(STARTED, []) else None


def _landing(purpose: str, next_url: str | None, account):
    """Where a person whose password was just set lands when no request is resumed: the
    service the link was asked for, which starts a sign-in of its own (its initiate-login
    URI), else a page that says the access is active, with the way to the service."""
    service = clients.registered(signin.client_of(next_url) or "") if next_url else None
    way = clients.way_in(service, account.address) if service else None
    if service is not None and service.initiate_login_uri:
        return redirect(way, 303)
    return current_app.make_response(render_template(
        "password_set.html", signed_in=True, purpose=purpose, service=service, way=way,
        services=[(other, clients.way_in(other, account.address))
                  for other in clients.services() if service is None
                  or other.client_id != service.client_id]))


def _link_problem(link: links.Link, purpose: str):
    token = link.token
    if purpose == Purpose.ACTIVATE and token is not None and token.account.active:
        next_url = safe_next(token.next_url)
        return render_template("already_active.html", account=token.account,
                               login=url_for("views.login", next=next_url)), 410
    return render_template("link_problem.html", problem=link.problem, purpose=purpose), 410


def _password_page(purpose: str):
    link = links.find(request.args.get("token"), purpose)
    if link.problem:
        return _link_problem(link, purpose)
    form = PasswordForm(formdata=None)
    form.token.data = request.args.get("token")
    allow_form_target(safe_next(link.token.next_url))
    return render_template("set_password.html", form=form, purpose=purpose,
                           account=link.token.account, problems=Problems())


def _password_submit(purpose: str):
    form = PasswordForm()
    if not form.validate_on_submit():
        return render_template("error.html", error="csrf", description=EXPIRED), 400
    link = links.find(form.token.data, purpose)
    if link.problem:
        return _link_problem(link, purpose)
    account = link.token.account
    asked_for = safe_next(link.token.next_url)
    next_url = _resumable(asked_for)
    allow_form_target(next_url)
    problems = Problems()
    for field, message in refusals(account, form.password.data or "", form.confirm.data or ""):
        problems.add(field, message)
    if problems:
        return render_template("set_password.html", form=form, purpose=purpose,
                               account=account, problems=problems), 400
    account = selfservice.set_password(link.token, form.password.data, str(get_locale()))
    if account is None:
        return _link_problem(links.find(form.token.data, purpose), purpose)
    try:
        result = authn.after_link(account)
    except AdapterUnavailable:
        result = None
    if result is None or isinstance(result, Refusal):
        return render_template("password_set.html", signed_in=False, purpose=purpose,
                               services=[])
    landing = None if next_url else _landing(purpose, asked_for, account)
    return signin.proceed(result, remember=False, next_url=next_url, landing=landing)


@bp.get("/zugang/aktivieren")
def activate():
    """The activation link: choose a password."""
    return _password_page(Purpose.ACTIVATE)


@bp.post("/zugang/aktivieren")
def activate_submit():
    """Set the first password and activate the account."""
    return _password_submit(Purpose.ACTIVATE)


@bp.get("/passwort-neu")
def reset():
    """The reset link: choose a new password."""
    return _password_page(Purpose.RESET)


@bp.post("/passwort-neu")
def reset_submit():
    """Set the new password; every session and refresh token of the account ends."""
    return _password_submit(Purpose.RESET)


@bp.get("/adresse-bestaetigen")
def confirm_move():
    """A mover's link: the new address the program has for the person, to confirm (a
    click, so that a mail scanner that opens links moves nothing)."""
    link = links.find(request.args.get("token"), Purpose.MOVE)
    if link.problem:
        return _link_problem(link, Purpose.MOVE)
    form = TokenForm(formdata=None)
    form.token.data = request.args.get("token")
    return render_template("confirm_move.html", form=form, account=link.token.account)


@bp.post("/adresse-bestaetigen")
def confirm_move_submit():
    """Move the account to its new address: the same ``sub``, password and services."""
    form = TokenForm()
    if not form.validate_on_submit():
        return render_template("error.html", error="csrf", description=EXPIRED), 400
    link = links.find(form.token.data, Purpose.MOVE)
    if link.problem:
        return _link_problem(link, Purpose.MOVE)
    account = link.token.account
    try:
        account = selfservice.confirm_move(link.token)
    except selfservice.MoveError as error:
        return render_template("confirm_move.html", form=form, account=account,
                               problem=str(error)), 409
    except AdapterUnavailable:
        return render_template("confirm_move.html", form=form, account=account,
                               problem=MOVE_UNAVAILABLE), 503
    return render_template("moved.html", account=account)
