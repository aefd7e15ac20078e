"""The person's own page: who, where the login comes from, sessions, connected services."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, redirect, render_template, session, url_for
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from sqlalchemy import delete, select
from wtforms import PasswordField

from ... import audit, backchannel, db, deletion, export, factors, sessions, signals, tokens
from ...models import Client, Consent, Source, SsoSession, now
from ...password_policy import refusals
from ...passwords import passwords
from .. import signin
from .forms import ActionForm, Problems
from .pages import EXPIRED

bp = Blueprint("account", __name__, url_prefix="/account")

WRONG = lazy_gettext("Das bisherige Passwort stimmt nicht.")
CHANGED = lazy_gettext("Ihr Passwort wurde geändert. Ihre anderen Sitzungen wurden beendet.")
SIGN_IN_TO_DELETE = lazy_gettext("Bitte melden Sie sich noch einmal an, um Ihren Zugang zu "
                                 "löschen.")
FRESH_SECONDS = 300  # deleting needs a sign-in this recent (with the second factor, if any)


class PasswordChangeForm(FlaskForm):
    """The current password and the new one, twice."""

    current = PasswordField()
    password = PasswordField()
    confirm = PasswordField()


def signed_in(page: str | None = None) -> SsoSession:
    """This browser's session; else the login, coming back to ``page`` (this page)."""
    sso = signin.current()
    if sso is None:
        abort(redirect(url_for("views.login", next=page or url_for("account.page"))))
    return sso


def _render(sso, problems: Problems | None = None, notice=None, status=200):
    account = sso.account
    live = sessions.of(account)
    granted = {c.client_id: c for c in db.session().scalars(
        select(Consent).where(Consent.account_id == account.id))}
    connected = sorted(tokens.connected_clients(account.id, [s.sid for s in live]) | {
        c for c in db.session().scalars(select(Client).where(Client.client_id.in_(granted)))},
        key=lambda client: client.name.casefold())
    return render_template("account.html", sso=sso, account=account, sessions=live,
                           clients=[(c, granted.get(c.client_id)) for c in connected],
                           form=ActionForm(), password_form=PasswordChangeForm(formdata=None),
                           factors=factors.of(account),
                           problems=problems or Problems(), notice=notice), status


def _checked() -> SsoSession:
    sso = signed_in()
    if not ActionForm().validate_on_submit():
        abort(make_response(render_template("error.html", error="csrf",
                                            description=EXPIRED), 400))
    return sso


@bp.get("")
def page():
    """The account page."""
    return _render(signed_in())


@bp.get("/data")
def data():
    """"Meine Daten": everything held about the person (GDPR Art. 15)."""
    sso = signed_in(url_for("account.data"))
    return render_template("account_data.html", account=sso.account,
                           held=export.held(sso.account))


@bp.get("/data.json")
def data_json():
    """The same as a JSON download (GDPR Art. 20), never cached."""
    sso = signed_in(url_for("account.data"))
    response = make_response(export.as_json(export.held(sso.account)))
    response.mimetype = "application/json"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="meine-daten-{sso.account.vhs.slug}.json"')
    return response  # "no-store", as every page (views._security_headers)


@bp.post("/sessions/<sid>/end")
def end_session(sid: str):
    """End one of the person's sessions (another device, or this one)."""
    sso = _checked()
    target = db.session().scalar(select(SsoSession).where(
        SsoSession.sid == sid[:64], SsoSession.account_id == sso.account_id))
    if target is None:
        abort(404)
    if target.id == sso.id:
        return signin.sign_out(make_response(render_template("logged_out.html")))
    sessions.end(target)
    _audit("logout", sso, detail="another device")
    return redirect(url_for("account.page"), 303)


@bp.post("/logout-everywhere")
def logout_everywhere():
    """"Überall abmelden": every session ends and every refresh token is revoked."""
    sso = _checked()
    sessions.end_all(sso.account)
    _audit("logout", sso, detail="everywhere")
    return signin.sign_out(make_response(render_template("logged_out.html", everywhere=True)))


@bp.post("/clients/<client_id>/revoke")
def revoke_client(client_id: str):
    """Withdraw a service's consent and revoke its tokens for this person."""
    sso = _checked()
    db.session().execute(delete(Consent).where(Consent.account_id == sso.account_id,
                                               Consent.client_id == client_id[:100]))
    backchannel.withdrawn(sso.account, client_id[:100])  # the service's sessions end too
    tokens.revoke_account(sso.account_id, client_id[:100])
    _audit("revocation", sso, client=client_id[:100], detail="by the person")
    return redirect(url_for("account.page"), 303)


@bp.post("/password")
def change_password():
    """Change a local password; the person's other sessions end."""
    sso = signed_in()
    form = PasswordChangeForm()
    account = sso.account
    problems = Problems()
    if not form.validate_on_submit():
        return _render(sso, problems.add(None, EXPIRED), status=400)
    if account.source != Source.LOCAL or not passwords().verify(account.password_hash,
                                                                form.current.data or ""):
        problems.add("current", WRONG)
    for field, message in refusals(account, form.password.data or "", form.confirm.data or ""):
        problems.add(field, message)
    if problems:
        return _render(sso, problems, status=400)
    account.password_hash = passwords().hash(form.password.data)
    account.password_changed_at = now()
    sessions.end_all(account, keep=sso)
    signals.credential_change(account, "password", "update")
    _audit("password_change", sso)
    return _render(sso, notice=CHANGED)


def _fresh(sso: SsoSession) -> bool:
    """Whether the session's sign-in is recent, and with the second factor where the person
    has one: what deleting the account asks for."""
    return now() - sso.auth_time <= FRESH_SECONDS and (
        factors.satisfied(sso.amr) or not factors.has_any(sso.account_id))


def _sign_in_again():
    session["login_notice"] = str(SIGN_IN_TO_DELETE)
    return redirect(url_for("views.login", next=url_for("account.delete_page")), 303)


@bp.get("/delete")
def delete_page():
    """"Zugang löschen": what happens, and the button; a fresh sign-in first."""
    sso = signed_in(url_for("account.delete_page"))
    if not _fresh(sso):
        return _sign_in_again()
    return render_template("account_delete.html", account=sso.account, form=ActionForm())


@bp.post("/delete")
def delete_account():
    """Delete the account and every row about it (idp.deletion); the browser is signed out."""
    sso = _checked()
    if not _fresh(sso):
        return _sign_in_again()
    account = sso.account
    _audit("account_deleted", sso, detail="by the person")
    deletion.delete(account)
    response = make_response(render_template("account_deleted.html"))
    session.clear()
    signin.forget_cookie(response)
    return response


def _audit(kind: str, sso: SsoSession, **values) -> None:
    audit.record(kind, vhs=sso.account.vhs.slug, sub=sso.account.sub, **values)
