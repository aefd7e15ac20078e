"""ITEM's own pages (operators only): onboarding and the settings of each VHS (adapter,
mail server, itm:PORTAL, upstream provider: sealed as on the command line), the
relying parties, the signing keys, the outbox of every VHS, the audit trail and the
dashboard. Stored secrets are never shown; a generated client secret is shown once."""

from __future__ import annotations

import tomllib

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from adapters import registry
from adapters.address import clean
from adapters.base import AdapterConfigError

from ... import (
    audit,
    clients,
    eligibility,
    factors,
    lifecycle,
    mail,
    portals,
    reports,
    signals,
    streams,
    tenants,
)
from ...connectors.portal import PortalSettings
from ...connectors.upstream import UpstreamSettings
from ...models import Vhs, now
from ...signing import signing
from ..views.forms import Problems, vhs_field
from . import acts, gate, program_options

bp = Blueprint("item", __name__)
bp.before_request(gate.operators_only)

class VhsFilter(FlaskForm):
    """The VHS filter of ITEM's lists: the login page's VHS choice (its prompt: every VHS)."""

    class Meta:
        csrf = False  # a filter of a GET page changes nothing

    vhs = vhs_field()


SAVED = _l("Gespeichert.")
REFUSED = _l("Nicht gespeichert: %(reason)s")
SINCE = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}


def _refused(error: Exception, default: str):
    return acts.done(REFUSED % {"reason": error}, default, "error")



def _lines(name: str) -> list[str]:
    return [line.strip() for line in acts.text(name).splitlines() if line.strip()]


@bp.post("/vhs")
def onboard():
    """Add a VHS (slug, name, in the drop-down or not)."""
    slug, name = acts.text("slug"), acts.text("name")
    try:
        vhs = tenants.add(slug, name, bool(request.form.get("onboarded")))
    except tenants.TenantError as error:
        return _refused(error, url_for("admin.index"))
    acts.record("vhs add", vhs=vhs.slug)
    flash(str(SAVED), "notice")
    return redirect(url_for("admin.item.settings", slug=vhs.slug), 303)


@bp.get("/vhs/<slug>/settings")
def settings(vhs: Vhs):
    """Name, drop-down, adapter, mail server, itm:PORTAL, upstream provider."""
    return render_template("admin/settings.html", vhs=vhs, adapters=registry.available(),
                           options=program_options.in_force(vhs),
                           mail_settings=mail.settings_of(vhs),
                           portal=portals.portal_for(vhs), upstream=portals.upstream_for(vhs),
                           portal_default=PortalSettings.of_vhs(vhs.slug, credential=""))


@bp.post("/vhs/<slug>/settings/vhs")
def set_vhs(vhs: Vhs):
    """Rename, put in the drop-down or take out, require a second factor or not."""
    try:
        tenants.change(vhs, acts.text("name"), bool(request.form.get("onboarded")))
    except tenants.TenantError as error:
        return _refused(error, url_for("admin.item.settings", slug=vhs.slug))
    factors.set_policy(vhs, bool(request.form.get("mfa_required")), gate.clearance().actor)
    acts.record("vhs set", vhs=vhs.slug)
    return acts.done(SAVED, url_for("admin.item.settings", slug=vhs.slug))


@bp.post("/vhs/<slug>/lifecycle/confirm")
def lifecycle_confirm(vhs: Vhs):
    """The brake held a pass at the VHS and ITEM checked: the people really left. Every
    active account whose last answer is "no" ends its access now."""
    ended = lifecycle.confirm(vhs, now())
    acts.record(lifecycle.CONFIRM, vhs=vhs.slug)
    return acts.done(_l("Bestätigt: %(count)s Personen wurden als ausgeschieden abgemeldet.",
                        count=ended), url_for("admin.vhs.program", slug=vhs.slug))


@bp.post("/vhs/<slug>/lifecycle/dismiss")
def lifecycle_dismiss(vhs: Vhs):
    """The brake held a pass and ITEM found the program's answers wrong (an emptied table):
    nothing changes, and the overview forgets it."""
    acts.record(lifecycle.DISMISS, vhs=vhs.slug)
    return acts.done(_l("Verworfen: niemandem wurde der Zugang beendet."),
                     url_for("admin.vhs.program", slug=vhs.slug))


@bp.post("/vhs/<slug>/settings/adapter")
def set_adapter(vhs: Vhs):
    """The Verwaltungsprogramm adapter and its options, one field each (an empty secret
    keeps the stored one); another adapter starts from its defaults, or TOML."""
    here = url_for("admin.item.settings", slug=vhs.slug)
    name = acts.text("adapter") or None
    options_text = acts.text("options")
    try:
        if name is not None and name not in registry.available():
            raise AdapterConfigError(f"unknown adapter {name!r}")
        if options_text:
            options = tomllib.loads(options_text)
        elif name is not None and name == vhs.adapter:
            options = program_options.posted(vhs, request.form)
        else:
            options = {}
        eligibility.configure(vhs, name, options)
    except (tomllib.TOMLDecodeError, AdapterConfigError) as error:
        return _refused(error, here)
    acts.record("vhs set-adapter", vhs=vhs.slug)
    return acts.done(SAVED, here)


@bp.post("/vhs/<slug>/settings/mail")
def set_mail(vhs: Vhs):
    """The VHS's SMTP server and sender; an empty password field keeps the stored one."""
    here = url_for("admin.item.settings", slug=vhs.slug)
    stored = mail.settings_of(vhs)
    user, password = acts.text("user"), request.form.get("password", "")
    if user and not password and stored and stored.user == user:
        password = stored.password
    port = acts.text("port")
    try:
        mail.set_settings(vhs, mail.MailSettings(
            host=acts.text("host"), port=int(port) if port.isdigit() else 0,
            security=acts.text("security"), sender=acts.text("sender"), user=user,
            password=password if user else ""))
    except mail.MailSettingsError as error:
        return _refused(error, here)
    acts.record("vhs set-mail", vhs=vhs.slug)
    return acts.done(SAVED, here)


def _seconds(name: str) -> float | None:
    """A form field's seconds; None when empty (the default); -1 when not a number."""
    try:
        return float(acts.text(name)) if acts.text(name) else None
    except ValueError:
        return -1.0  # the settings' check names the rule


@bp.post("/vhs/<slug>/settings/portal")
def set_portal(vhs: Vhs):
    """The VHS's itm:PORTAL (or none); an empty credential field keeps the stored one."""
    here = url_for("admin.item.settings", slug=vhs.slug)
    try:
        if request.form.get("remove"):
            portals.configure(vhs, None)
        else:
            stored = portals.portal_for(vhs)
            credential = acts.text("credential") or (
                stored.settings.credential if stored else "")
            portals.configure(vhs, PortalSettings.of_vhs(
                vhs.slug, credential, acts.text("base_url") or None,
                _seconds("connect_timeout"), _seconds("read_timeout")))
    except ValueError as error:
        return _refused(error, here)
    acts.record("vhs set-portal", vhs=vhs.slug)
    return acts.done(SAVED, here)


@bp.post("/vhs/<slug>/settings/upstream")
def set_upstream(vhs: Vhs):
    """"Mit itm:PORTAL anmelden" through the portal's OpenID provider (or not)."""
    here = url_for("admin.item.settings", slug=vhs.slug)
    try:
        if request.form.get("remove"):
            portals.configure_upstream(vhs, None)
        else:
            stored = portals.upstream_for(vhs)
            secret = acts.text("client_secret") or (
                stored.settings.client_secret if stored else "")
            portals.configure_upstream(vhs, UpstreamSettings(
                issuer=acts.text("issuer"), client_id=acts.text("client_id"),
                client_secret=secret))
    except ValueError as error:
        return _refused(error, here)
    acts.record("vhs set-upstream", vhs=vhs.slug)
    return acts.done(SAVED, here)


@bp.get("/clients")
def client_list():
    """The relying parties (never their secrets)."""
    return render_template("admin/clients.html", every=clients.every(),
                           grants=clients.GRANTS, algorithms=clients.ALGORITHMS)


@bp.post("/clients")
def client_add():
    """Register a relying party; a generated secret is shown once."""
    try:
        client, secret = clients.register(clients.Registration(
            client_id=acts.text("client_id"), redirect_uris=_lines("redirect_uris"),
            post_logout_redirect_uris=_lines("post_logout_redirect_uris"),
            public=bool(request.form.get("public")),
            first_party=bool(request.form.get("first_party")),
            grants=request.form.getlist("grants")[:3] or ["authorization_code"],
            scope=acts.text("scope") or "openid profile email",
            id_token_alg=acts.text("id_token_alg") or "RS256",
            backchannel_logout_uri=acts.text("backchannel_logout_uri") or None,
            display_name=acts.text("display_name") or None,
            logo=acts.text("logo") or None, client_uri=acts.text("client_uri") or None,
            require_mfa=bool(request.form.get("require_mfa")),
            initiate_login_uri=acts.text("initiate_login_uri") or None))
    except clients.RegistrationError as error:
        return _refused(error, url_for("admin.item.client_list"))
    acts.record("clients add", client=client.client_id)
    return _client_page(client, secret)


STREAM_STATES = {"enabled": _l("aktiv"), "paused": _l("angehalten (Ereignisse warten)"),
                 "disabled": _l("abgeschaltet (Ereignisse verfallen)")}


def _client_page(client, secret: str | None = None):
    stream = streams.of_client(client.client_id)
    return render_template("admin/client.html", client=client, secret=secret, stream=stream,
                           stream_states=STREAM_STATES,
                           waiting=signals.waiting(stream) if stream else 0,
                           events=signals.SUPPORTED,
                           delivered=signals.delivered(stream) if stream else signals.SUPPORTED)


def _client(client_id: str):
    try:
        return clients.find(client_id[:100])
    except clients.RegistrationError:
        abort(404)


@bp.get("/clients/<client_id>")
def client(client_id: str):
    """One relying party: its URIs and what people see of it."""
    return _client_page(_client(client_id))


@bp.post("/clients/<client_id>")
def client_edit(client_id: str):
    """Replace the redirect URIs and the back-channel logout URI; name, logo, home page."""
    found = _client(client_id)
    here = url_for("admin.item.client", client_id=found.client_id)
    try:
        clients.redirect_to(found, _lines("redirect_uris"),
                            _lines("post_logout_redirect_uris"),
                            acts.text("backchannel_logout_uri") or None)
        clients.present(found, acts.text("display_name") or None,
                        acts.text("logo") or None, acts.text("client_uri") or None,
                        acts.text("initiate_login_uri") or None)
    except clients.RegistrationError as error:
        return _refused(error, here)
    factors.set_policy(found, bool(request.form.get("require_mfa")), gate.clearance().actor)
    acts.record("clients set", client=found.client_id)
    return acts.done(SAVED, here)


@bp.post("/clients/<client_id>/ssf")
def client_ssf(client_id: str):
    """Set up, change or delete the service's Shared Signals stream (push to a URL, or
    polled), the events it carries, and its status."""
    found = _client(client_id)
    here = url_for("admin.item.client", client_id=found.client_id)
    method = request.form.get("method", "")
    try:
        streams.operate(found, push=acts.text("push_url") if method == "push" else None,
                        poll=method == "poll", events=request.form.getlist("events")[:20],
                        status=request.form.get("status") or None, delete=method == "none")
    except streams.StreamError as error:
        return _refused(error.description, here)
    acts.record("clients set", client=found.client_id)
    return acts.done(SAVED, here)


@bp.post("/clients/<client_id>/secret")
def client_secret(client_id: str):
    """A new secret for a confidential client, shown once; the old one stops working."""
    found = _client(client_id)
    try:
        secret = clients.rotate_secret(found)
    except clients.RegistrationError as error:
        return _refused(error, url_for("admin.item.client", client_id=found.client_id))
    acts.record("clients rotate-secret", client=found.client_id)
    return _client_page(found, secret)


@bp.get("/keys")
def keys():
    """The signing keys: state, algorithm, until when a retired one stays published."""
    return render_template("admin/keys.html", keyring=signing().keyring())


@bp.post("/keys/rotate")
def keys_rotate():
    """Promote next to current, retire current, create a new next."""
    signing().rotate()
    acts.record("keys rotate")
    return acts.done(_l("Die Schlüssel sind rotiert; laufende Instanzen übernehmen das "
                        "innerhalb von %(seconds)s Sekunden.")
                     % {"seconds": signing().reload_seconds}, url_for("admin.item.keys"))


@bp.get("/outbox")
def outbox():
    """The mails of every VHS, newest first, with their delivery state."""
    chosen = VhsFilter(request.args)
    slug = (chosen.vhs.data or "")[:63]
    vhs = gate.vhs(slug) if slug else None
    page = reports.outbox(vhs, acts.before_id())
    more = url_for("admin.item.outbox", tenant=slug or None, before=page.before) \
        if page.before else None
    return render_template("admin/outbox.html", vhs=vhs, page=page, more=more, chosen=chosen,
                           problems=Problems())


@bp.get("/audit")
def trail():
    """The audit trail by VHS, kind, address and age."""
    chosen = VhsFilter(request.args)
    slug, kind = (chosen.vhs.data or "")[:63], request.args.get("kind", "")[:40]
    address = clean(request.args.get("email", "")[:320]).value
    since = request.args.get("since", "")
    page = reports.trail(slug or None, kind or None,
                         audit.persons(address, slug or None) if address else None,
                         now() - SINCE[since] if since in SINCE else None, acts.before_id())
    more = url_for("admin.item.trail", tenant=slug or None, kind=kind or None,
                   email=address or None, since=since or None,
                   before=page.before) if page.before else None
    return render_template("admin/audit.html", page=page, more=more, chosen=chosen, kind=kind,
                           people=audit.named(page.rows),  # an operator: every VHS
                           email=address, since=since, kinds=reports.kinds(), ages=SINCE,
                           problems=Problems())


@bp.get("/dashboard")
def dashboard():
    """Logins per hour, failures by reason, throttle hits, program errors by VHS."""
    return render_template("admin/dashboard.html", board=reports.dashboard())
