"""One VHS's own pages: "Warum kommt jemand nicht rein?", the access requests, the KMA
links, the VHS's mail server (with "Testmail senden" and its outbox), the
Verwaltungsprogramm connection (with "Verbindung testen") and the record of processing
activities (with the VHS's own controller and data protection officer)."""

from __future__ import annotations

from flask import Blueprint, make_response, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from adapters.address import clean, is_plausible
from adapters.base import AdapterUnavailable

from ... import (
    audit,
    diagnose,
    directory,
    labels,
    lifecycle,
    mail,
    notices,
    privacy,
    programs,
    reports,
)
from ...models import Vhs, now
from . import acts, gate

bp = Blueprint("vhs", __name__, url_prefix="/vhs/<slug>")

NOT_AN_ADDRESS = _l("Bitte geben Sie eine E-Mail-Adresse ein (höchstens 320 Zeichen).")
TEST_SENT = _l("Die Testmail an %(address)s wurde an %(host)s übergeben.")
TEST_FAILED = _l("Die Testmail ging nicht hinaus: Schritt „%(step)s“ scheiterte: %(error)s")
NO_MAIL = _l("Für diese VHS ist noch kein Mailserver eingetragen.")
PROBE_OK = _l("Das Verwaltungsprogramm (%(adapter)s) antwortete in %(ms)s ms.")
PROBE_FAILED = _l("Das Verwaltungsprogramm (%(adapter)s) ist nicht erreichbar: %(error)s")
NO_ADAPTER = _l("Für diese VHS ist kein Verwaltungsprogramm angebunden.")
LINKED = _l("%(address)s ist verknüpft.")
UNLINKED = _l("Die Verknüpfung von %(address)s ist entfernt.")
NOT_LINKED = _l("%(address)s war nicht verknüpft.")
CONTACTS_SAVED = _l("Verantwortliche und Datenschutzbeauftragte sind gespeichert.")



@bp.get("/diagnose")
def diagnosis(vhs: Vhs):
    """The form: which address?"""
    return render_template("admin/diagnose.html", vhs=vhs, address="",
                           findings=None)


@bp.post("/diagnose")
@gate.read_only
def diagnosis_run(vhs: Vhs):
    """Every check of the help page for the address, and its last audit events (POST, so
    the address stays out of URLs and access logs)."""
    typed = request.form.get("address") or ""
    if not typed.strip() or len(typed) > 320:
        return render_template("admin/diagnose.html", vhs=vhs, address=typed[:320],
                               findings=None, problem=NOT_AN_ADDRESS), 400
    findings, access = diagnose.diagnose_at(vhs, typed)
    acts.record("diagnose", vhs=vhs.slug, address=clean(typed).value)
    events = audit.events(vhs.slug, audit.persons(typed, vhs.slug), limit=15)
    return render_template("admin/diagnose.html", vhs=vhs, address=typed, findings=findings,
                           access=access, events=events)


@bp.get("/requests")
def requests(vhs: Vhs):
    """Recent "Neuer Zugang" requests: the program's decision and the mail's fate."""
    page = reports.access_requests(vhs, acts.before_id())
    more = url_for("admin.vhs.requests", slug=vhs.slug, before=page.before) \
        if page.before else None
    return render_template("admin/requests.html", vhs=vhs, page=page, more=more)


@bp.get("/kma")
def kma(vhs: Vhs):
    """The Kursmanagement-APP links of the VHS."""
    return render_template("admin/kma.html", vhs=vhs,
                           links=[address for _, address in directory.links(vhs.slug)])


def _address(name: str = "address") -> str | None:
    typed = request.form.get(name) or ""
    value = clean(typed).value
    return value if len(typed) <= 320 and is_plausible(value) else None


@bp.post("/kma/link")
def kma_link(vhs: Vhs):
    """Record that ITEM linked the user in the Kursmanagement-APP."""
    address = _address()
    default = url_for("admin.vhs.kma", slug=vhs.slug)
    if address is None:
        return acts.done(NOT_AN_ADDRESS, default, "error")
    directory.link(vhs, address)
    acts.record("kma link", vhs=vhs.slug, address=address)
    return acts.done(LINKED % {"address": address}, default)


@bp.post("/kma/unlink")
def kma_unlink(vhs: Vhs):
    """Remove a link."""
    address = _address()
    default = url_for("admin.vhs.kma", slug=vhs.slug)
    if address is None or not directory.unlink(vhs, address):
        return acts.done(NOT_LINKED % {"address": address or "?"}, default, "error")
    acts.record("kma unlink", vhs=vhs.slug, address=address)
    return acts.done(UNLINKED % {"address": address}, default)


@bp.get("/mail")
def mail_server(vhs: Vhs):
    """The VHS's mail server (never its password), "Testmail senden", its outbox."""
    page = reports.outbox(vhs, acts.before_id())
    more = url_for("admin.vhs.mail_server", slug=vhs.slug, before=page.before) \
        if page.before else None
    return render_template("admin/mail.html", vhs=vhs, settings=mail.settings_of(vhs),
                           page=page, more=more)


@bp.post("/mail/test")
def test_mail(vhs: Vhs):
    """Send a test mail now through the VHS's server; name the failing step if it fails."""
    default = url_for("admin.vhs.mail_server", slug=vhs.slug)
    address = _address()
    if address is None:
        return acts.done(NOT_AN_ADDRESS, default, "error")
    acts.record("vhs test-mail", vhs=vhs.slug)
    try:
        address, host = notices.send_test(vhs, address)
    except mail.MailSettingsError:
        return acts.done(NO_MAIL, default, "error")
    except mail.DialogueFailed as failed:
        return acts.done(TEST_FAILED % {"step": failed.step, "error": failed.error}, default,
                         "error")
    return acts.done(TEST_SENT % {"address": address, "host": host}, default)


@bp.get("/program")
def program(vhs: Vhs):
    """Which adapter, whether it answered in the last hour, how fast."""
    health = programs.health(vhs, now() - 3600) if vhs.adapter else None
    return render_template("admin/program.html", vhs=vhs, health=health,
                           braked=lifecycle.braked(vhs, now()) if vhs.adapter else None)


@bp.post("/program/test")
def program_test(vhs: Vhs):
    """"Verbindung testen": ask the program about an address nobody has, and time it."""
    default = url_for("admin.vhs.program", slug=vhs.slug)
    if not vhs.adapter:
        return acts.done(NO_ADAPTER, default, "error")
    acts.record("vhs test-program", vhs=vhs.slug)
    try:
        _, milliseconds = programs.probe(vhs)
    except AdapterUnavailable as error:
        return acts.done(PROBE_FAILED % {"adapter": labels.program(vhs.adapter),
                                         "error": error}, default, "error")
    return acts.done(PROBE_OK % {"adapter": labels.program(vhs.adapter), "ms": milliseconds},
                     default)


@bp.get("/verzeichnis")
def record(vhs: Vhs):
    """"Verzeichnis der Verarbeitungstätigkeiten" (GDPR Art. 30), made from the running
    configuration, and the VHS's own contacts."""
    return render_template("admin/record.html", vhs=vhs, record=privacy.record(vhs),
                           contacts=privacy.contacts(None))


@bp.get("/verzeichnis.md")
def record_markdown(vhs: Vhs):
    """The same record as a Markdown file, for the data protection officer."""
    response = make_response(privacy.markdown(privacy.record(vhs)))
    response.mimetype = "text/markdown"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="verzeichnis-{vhs.slug}.md"')
    return response


@bp.post("/verzeichnis/kontakte")
def record_contacts(vhs: Vhs):
    """Enter the VHS's own controller and data protection officer (empty: the
    installation's)."""
    default = url_for("admin.vhs.record", slug=vhs.slug)
    try:
        privacy.set_contacts(vhs, acts.text("controller"), acts.text("dpo"))
    except privacy.ContactError as error:
        return acts.done(error, default, "error")
    acts.record("vhs set-privacy", vhs=vhs.slug)
    return acts.done(CONTACTS_SAVED, default)
