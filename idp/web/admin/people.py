"""The people of one VHS: the list (search, state, source; keyset pages), one person's
sessions and mails, and what an administrator may do for them. Administrators never
see or set passwords: they send the person the mail that lets them set one."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from adapters.base import AdapterUnavailable

from ... import accounts, audit, deletion, diagnose, factors, leavers, selfservice, sessions
from ...connectors import PortalUnavailable
from ...models import Account, Status, Vhs, now
from . import acts, gate

bp = Blueprint("people", __name__, url_prefix="/vhs/<slug>/people")

UNREACHABLE = _l("Das Verwaltungsprogramm oder das itm:PORTAL ist gerade nicht erreichbar; "
                 "es wurde keine Mail verschickt.")
TOO_LONG = _l("Der Suchbegriff ist zu lang (höchstens %(limit)s Zeichen).")
OUTCOME = {
    "activation": _l("Die Aktivierungsmail ist im Postausgang."),
    "reset": _l("Die Mail zum Passwort-Setzen ist im Postausgang."),
    "recently_sent": _l("Eine solche Mail ging vor kurzem an die Adresse; ihr Link gilt "
                        "noch. Eine weitere geht erst später (dieselbe Grenze wie für die "
                        "Person selbst)."),
    "already_active": _l("Der Zugang ist schon aktiv: Die Person bekam einen Hinweis zur "
                         "Anmeldung."),
    "portal_login": _l("Die Adresse hat einen Login im itm:PORTAL: Die Person bekam den "
                       "Hinweis, diesen zu nutzen."),
    "not_released": _l("Keine Aktivierungsmail: „Im Internet anzeigen“ ist nicht gesetzt. "
                       "Die Person bekam eine Erklärung."),
    "not_linked": _l("Keine Aktivierungsmail: die KMA-Verknüpfung fehlt. Die Person bekam "
                     "eine Erklärung."),
    "not_registered": _l("Keine Aktivierungsmail: das Verwaltungsprogramm kennt die Adresse "
                         "nicht (oder nicht als aktiv)."),
    "no_active_account": _l("Keine Mail: der Zugang ist nicht aktiv."),
    "disabled": _l("Keine Mail: der Zugang ist gesperrt."),
    "no_adapter": _l("Keine Mail: für diese VHS ist kein Verwaltungsprogramm angebunden."),
    "malformed": _l("Keine Mail: die VHS ist nicht freigeschaltet."),
}


@bp.get("")
def listing(vhs: Vhs):
    """The VHS's accounts by address, 50 a page, found by address or name."""
    search = request.args.get("q", "")
    status, source = request.args.get("state", ""), request.args.get("source", "")
    problem = None
    if len(search) > accounts.MAX_SEARCH:
        problem, search = TOO_LONG % {"limit": accounts.MAX_SEARCH}, ""
    page = accounts.people(vhs, search, status, source, request.args.get("after", "")[:320])
    more = url_for("admin.people.listing", slug=vhs.slug, q=search or None,
                   state=status or None, source=source or None,
                   after=page.after) if page.after else None
    return render_template("admin/people.html", vhs=vhs, page=page, search=search,
                           state=status, source=source, more=more, problem=problem,
                           states=diagnose.STATES, filters=diagnose.FILTERS,
                           sources=accounts.SOURCES), \
        400 if problem else 200


@bp.get("/<int:account_id>")
def person(vhs: Vhs, account: Account):
    """One person: state, source, last login, live sessions, the last mails and events."""
    who = audit.persons(account.address, account.vhs.slug)
    return render_template("admin/person.html", vhs=account.vhs, account=account,
                           sessions=sessions.of(account), states=diagnose.STATES,
                           have=factors.of(account), now_moment=now(),
                           mails=diagnose.last_mails(account.vhs, account.address, 10),
                           events=audit.events(account.vhs.slug, who, limit=20))


def _url(account: Account) -> str:
    return url_for("admin.people.person", slug=account.vhs.slug, account_id=account.id)


# why an administrator deletes an account: a code in the audit (its words in idp.labels)
DELETE_REASONS = ("left_vhs", "asked_by_person", "duplicate", "other")


@bp.route("/<int:account_id>/delete", methods=["GET", "POST"])
def delete(vhs: Vhs, account: Account):
    """Delete the account and every row about it (``idp.deletion``), after asking why (a
    GET, or a POST without ``confirmed`` and a reason, only asks)."""
    if account.id == gate.clearance().account_id:
        return acts.done(_l("Den eigenen Zugang löschen Sie unter „Mein Zugang“."),
                         _url(account), "error")
    reason = request.form.get("reason", "")
    if request.method == "GET" or request.form.get("confirmed") != "1" or \
            reason not in DELETE_REASONS:
        missing = request.form.get("confirmed") == "1"
        return render_template("admin/delete.html", vhs=account.vhs, account=account,
                               reasons=DELETE_REASONS, missing=missing,
                               back=_url(account)), 400 if missing else 200
    slug, sub = account.vhs.slug, account.sub
    deletion.delete(account)
    acts.record("accounts delete", vhs=slug, sub=sub, reason=reason)
    flash(str(_l("Der Zugang ist gelöscht, mit allem, was hier über die Person "
                 "gespeichert war.")), "notice")  # on the list: the person's page is gone
    return redirect(url_for("admin.people.listing", slug=slug), 303)


@bp.post("/<int:account_id>/keep")
def keep(vhs: Vhs, account: Account):
    """"Zugang behalten": an exception, with a reason and an end date, from closing and
    deleting a leaver's or an unused account (``idp.leavers.keep``)."""
    try:
        leavers.keep(account, leavers.end_of_day(acts.text("until")), acts.text("reason"),
                     now())
    except leavers.KeepError as error:
        return acts.done(error, _url(account), "error")
    _record("accounts keep", account)
    return acts.done(_l("Der Zugang wird bis zum Enddatum behalten."), _url(account))


def _record(action: str, account: Account) -> None:
    acts.record(action, vhs=account.vhs.slug, sub=account.sub)


def _unconfirmed(account: Account, question, consequence, button):
    """The page that asks before an act that locks a person out, or None once it was
    confirmed (the form's ``confirmed``)."""
    if request.form.get("confirmed") == "1":
        return None
    return render_template("admin/confirm.html", vhs=account.vhs, account=account,
                           question=question, consequence=consequence, button=button,
                           back=_url(account))


@bp.post("/<int:account_id>/disable")
def disable(vhs: Vhs, account: Account):
    """Disable (after asking): the sessions end, the tokens are revoked, no login until
    enabled."""
    if account.id == gate.clearance().account_id:
        return acts.done(_l("Den eigenen Zugang können Sie hier nicht sperren."),
                         _url(account), "error")
    asked = _unconfirmed(account, _l("Zugang sperren?"), _l(
        "Die Person wird auf allen Geräten abgemeldet, die Dienste verlieren den Zugriff, und "
        "bis zum Entsperren kann sie sich nicht mehr anmelden."), _l("Ja, sperren"))
    if asked:
        return asked
    if accounts.disable(account):
        _record("accounts disable", account)
    return acts.done(_l("Der Zugang ist gesperrt; alle Sitzungen sind beendet."),
                     _url(account))


@bp.post("/<int:account_id>/enable")
def enable(vhs: Vhs, account: Account):
    """Enable a disabled account again."""
    if accounts.enable(account):
        _record("accounts enable", account)
    message = (_l("Der Zugang ist wieder aktiv.") if account.status == Status.ACTIVE else
               _l("Der Zugang ist entsperrt und wartet auf die Aktivierung."))
    return acts.done(message, _url(account))


@bp.post("/<int:account_id>/end-sessions")
def end_sessions(vhs: Vhs, account: Account):
    """End every session of the person and revoke every token."""
    sessions.end_all(account)
    _record("accounts end-sessions", account)
    return acts.done(_l("Alle Sitzungen sind beendet."), _url(account))


@bp.post("/<int:account_id>/activation-mail")
def activation_mail(vhs: Vhs, account: Account):
    """Send the activation mail again: exactly what "Neuer Zugang" would send now."""
    if account.status != Status.PENDING:
        return acts.done(_l("Nur ein Zugang, der auf die Aktivierung wartet, bekommt eine "
                            "Aktivierungsmail."), _url(account), "error")
    try:
        outcome = selfservice.request_access(account.vhs.slug, account.address,
                                             str(get_locale()), None)
    except (AdapterUnavailable, PortalUnavailable):
        return acts.done(UNREACHABLE, _url(account), "error")
    _record("accounts activation-mail", account)
    return acts.done(OUTCOME[outcome], _url(account))


@bp.post("/<int:account_id>/reset-mail")
def reset_mail(vhs: Vhs, account: Account):
    """Send the person a link to set a new password: what "Passwort vergessen" sends."""
    try:
        outcome = selfservice.request_reset(account.vhs.slug, account.address,
                                            str(get_locale()))
    except PortalUnavailable:
        return acts.done(UNREACHABLE, _url(account), "error")
    _record("accounts reset-mail", account)
    return acts.done(OUTCOME[outcome], _url(account))


@bp.post("/<int:account_id>/reset-mfa")
def reset_mfa(vhs: Vhs, account: Account):
    """"Zweiten Faktor zurücksetzen": for a person who lost every factor and every
    recovery code; announced to them by mail, and a new one is set up at the next login."""
    asked = _unconfirmed(account, _l("Zweiten Faktor zurücksetzen?"), _l(
        "Alle Authenticator-Apps, Passkeys und Wiederherstellungscodes der Person werden "
        "entfernt und sie wird überall abgemeldet. Danach meldet sie sich nur mit dem "
        "Passwort an und richtet einen neuen zweiten Faktor ein. Tun Sie das nur, wenn Sie "
        "sicher sind, dass die Person selbst darum bittet."), _l("Ja, zurücksetzen"))
    if asked:
        return asked
    if not factors.reset(account, gate.clearance().actor):
        return acts.done(_l("Dieser Zugang hat keinen zweiten Faktor."), _url(account), "error")
    _record("accounts reset-mfa", account)
    return acts.done(_l("Die zweiten Faktoren sind zurückgesetzt; die Person wurde per Mail "
                        "informiert und alle Sitzungen sind beendet."), _url(account))
