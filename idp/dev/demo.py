"""``vhskoop-idp demo``: the whole story in one process, on loopback, with SQLite.

- three VHS set up for real (``idp.dev.world``): a KuferSQL-shaped program database each,
  the Kursmanagement-APP at one, an itm:PORTAL (the simulator) at another, people for
  every case of the help page; about 850 more VHS names so that the list has its size;
- the VHS's mail server (aiosmtpd on loopback), whose mails /demo/mails shows;
- two relying parties, "vhsKOOP" and "itm:FEEDBACK" (``idp.dev.relying_party``), at
  /demo/vhskoop/ and /demo/feedback/: signing in at one signs in at the other without a
  password, signing out of one signs out of both (back-channel logout, shown).
At every start the program databases are written anew and the relying parties' redirect
URIs follow the port; the banner prints what is valid now.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import sys
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pyotp
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import make_url, select
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from .. import (
    accounts,
    clients,
    db,
    directory,
    eligibility,
    factors,
    labels,
    mail,
    passkeys,
    portals,
    roles,
    streams,
    tenants,
)
from ..connectors.portal import PortalSettings
from ..models import Account, Role, Status, Vhs, now
from ..passwords import passwords
from . import cutover, world
from .portal_sim import PortalSimulator
from .relying_party import relying_party

PASSWORD = "Sonnige Tage am Donauufer"
ADMIN_TOTP = "KVHSKOOPDEMOADMINTOTPSECRET23456"  # the administrator's app (RFC 6238)
# What the demo sets unlike an installation (its app is built with these): a fix in the
# demo's program is seen within seconds while one watches.
# help requests re-checked every 5 s; every account's program answer renewed every 7 s, so
# that a leaver's access ends within seconds (production: every 24 hours)
SETTINGS = {"HELP_RECHECK_SECONDS": 5, "LIFECYCLE_CHECK_HOURS": 0.002}
PORTAL_PASSWORD = "Portal-Kennwort für Paula"
SERVICES = (("vhskoop", "vhsKOOP", "vhskoop.svg"), ("feedback", "itm:FEEDBACK", "feedback.svg"))

bp = Blueprint("demo", __name__, url_prefix="/demo")
STATES = {Status.ACTIVE: _l("aktiv"), Status.PENDING: _l("wartet auf die Aktivierung"),
          Status.DISABLED: _l("gesperrt"),
          Status.LEFT: _l("ausgeschieden: das Verwaltungsprogramm führt sie nicht mehr")}


def free_port() -> int:
    """A free loopback port (aiosmtpd and the simulator need one up front)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DemoMailbox:
    """The demo VHS's mail server: a real SMTP server on loopback (aiosmtpd) whose mails
    the page /demo/mails shows, so "Neuer Zugang" can be tried without a mail account."""

    def __init__(self):
        self.messages: list = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        """Stop the mail server."""
        self.controller.stop()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


class Demo:
    """The demo around a provider app: its world, mailbox, portal and relying parties."""

    def __init__(self, app: Flask, folder: Path):
        self.app = app
        self.folder = folder
        self.issuer = app.config["ISSUER"]
        self.mailbox = DemoMailbox()
        self.portal = PortalSimulator(self._portal_users(), secrets.token_urlsafe(24)).start()
        self.old_login = cutover.OldLogin()
        app.extensions["idp.demo"] = self
        app.register_blueprint(bp)

    def _portal_users(self) -> list[dict]:
        hasher = PasswordHasher()
        return [{"email": person.address, "id": f"p-{person.id}",
                 "name": f"{person.first} {person.last}",
                 "password_hash": hasher.hash(PORTAL_PASSWORD)}
                for person in world.PORTALSTADT.people if person.portal_login]

    def seed(self) -> None:
        """Make or refresh the world (call in one transaction: ``db.transaction``)."""
        names: dict[str, str] = {}
        for name in world.other_names():
            names.setdefault(world.slug_of(name), name)
        tenants.add_many(names, onboarded=True)
        known = set(db.session().scalars(select(Vhs.slug)))
        for vhs in world.VHS:
            self._seed_vhs(vhs, known)
        for slug, address in world.LINKED:
            directory.link(tenants.find(slug), address)
        for person in (world.MUSTERSTADT.people[0], world.ADMIN, world.LEAVER):
            if accounts.find(tenants.find("musterstadt"), person.address) is None:
                accounts.add_local("musterstadt", person.address, PASSWORD,
                                   name=f"{person.first} {person.last}")
        admin = accounts.find(tenants.find("musterstadt"), world.ADMIN.address)
        roles.grant("musterstadt", admin.address, Role.ADMIN, by="demo")
        if not factors.has_any(admin.id):  # the console asks every role for a second factor
            factors.begin_totp(admin, ADMIN_TOTP)
            # confirmed with the code of the half minute before, so that the banner's current
            # code still signs in; a half minute may turn between making it and checking it
            if not any(factors.confirm_totp(
                    admin, pyotp.TOTP(ADMIN_TOTP).generate_otp(now() // 30 - 1),
                    announce=False) for _ in range(2)):
                raise RuntimeError("the demo administrator's app could not be confirmed")
        for key, title, logo in SERVICES:
            self._register(key, title, logo)
        self.old_login.seed(self.mailbox.port)
        clients.release_legacy_id(clients.find("vhskoop"), True)  # it knows its old ids

    def program_url(self, slug: str) -> str:
        """The SQLAlchemy URL of a demo VHS's program database."""
        return f"sqlite:///{self.folder / 'programs' / f'{slug}.sqlite3'}"

    def _seed_vhs(self, spec: world.DemoVhs, known: set[str]) -> None:
        url = world.keep_program(self.folder / "programs" / f"{spec.slug}.sqlite3", spec)
        options = {"url": url, "mandant": "1"}
        if spec.adapter == "kma":
            options = {"program": "kufersql", "program_options": options}
        if spec.slug in known:
            vhs = tenants.find(spec.slug)
            eligibility.configure(vhs, spec.adapter, options)
        else:
            vhs = tenants.add(spec.slug, spec.name, True, spec.adapter, options)
        domain = spec.people[0].address.split("@")[1]
        mail.set_settings(vhs, mail.MailSettings(host="127.0.0.1", port=self.mailbox.port,
                                                 security="none", sender=f"info@{domain}"))
        if spec.portal:
            portals.configure(vhs, PortalSettings(base_url=self.portal.url,
                                                  credential=self.portal.credential))

    def _register(self, key: str, title: str, logo: str) -> None:
        base = f"{self.issuer}/demo/{key}"
        entry = base + "/initiate-login"
        uris = {"redirect_uris": [base + "/callback"],
                "post_logout_redirect_uris": [base + "/?signed_out=1"],
                "backchannel_logout_uri": base + "/backchannel-logout"}
        try:
            client = clients.find(key)
        except clients.RegistrationError:
            client, _ = clients.register(clients.Registration(
                client_id=key, public=True, first_party=True, display_name=title, logo=logo,
                client_uri=base + "/", initiate_login_uri=entry,
                grants=["authorization_code", "refresh_token"],
                scope="openid profile email offline_access", **uris))
        else:
            clients.redirect_to(client, **uris)
            clients.present(client, home=base + "/", initiate_login=entry)
        if key == "vhskoop":  # a Shared Signals push receiver, set up as an operator would
            streams.operate(client, push=base + "/ssf/events")

    def wsgi(self):
        """The provider with both relying parties mounted beside it."""
        mounts = {}
        for index, (key, title, logo) in enumerate(SERVICES):
            other_key, other_title, _ = SERVICES[1 - index]
            mounts[f"/demo/{key}"] = relying_party(
                key=key, title=title, client_id=key, issuer=self.issuer, logo=logo,
                base=f"{self.issuer}/demo/{key}",
                other=(other_title, f"{self.issuer}/demo/{other_key}/",
                       f"{self.issuer}/demo/{other_key}/initiate-login?"
                       + urlencode({"iss": self.issuer})))
        return DispatcherMiddleware(self.app, mounts)

    def banner(self) -> list[str]:
        """What is valid now: the URLs and the people to try, with the commands as this
        installation names them."""
        demo = world.MUSTERSTADT.people[0]
        password, admin_password = _password(demo.address), _password(world.ADMIN.address)
        idp, python = _program("vhskoop-idp"), _program("python")
        issuer = self.issuer
        port = urlsplit(issuer).port or 80
        return [
            f"vhskoop-idp demo at {issuer}",
            f"  vhsKOOP (demo service):      {issuer}/demo/vhskoop/",
            f"  itm:FEEDBACK (demo service): {issuer}/demo/feedback/",
            f"  the demo VHS's mails:        {issuer}/demo/mails",
            f"  everyone to try:             {issuer}/demo/",
            f"  sign in:  vhs Musterstadt, {demo.address}, password {password}",
            f"  the console: {issuer}/admin/ as {world.ADMIN.address} (administrator of vhs "
            f"Musterstadt), password {admin_password}, then the code of an authenticator app "
            f"with the secret {ADMIN_TOTP}",
            f"    (its current code: {python} -c \"import pyotp; "
            f"print(pyotp.TOTP('{ADMIN_TOTP}').now())\")",
            *([] if passkeys.usable() else [
                f"  passkeys need a host name: IDP_DEMO_ISSUER=http://localhost:{port} "
                f"{idp} demo --port {port}, then open http://localhost:{port}"]),
            f"  the demo's program (KuferSQL) to fix addresses: {issuer}/demo/programs/musterstadt",
            f"  itm:PORTAL login: vhs Portalstadt, {world.PORTALSTADT.people[0].address}, "
            f"password {json.dumps(PORTAL_PASSWORD, ensure_ascii=False)}",
            f"  Neuer Zugang: {world.MUSTERSTADT.people[1].address} (vhs Musterstadt)",
            f"  a leaver: sign in as {world.LEAVER.address} (vhs Musterstadt, password "
            f"{_password(world.LEAVER.address)}) at both services, then untick \"aktiv\" for "
            f"her in the demo's program: both services are told within seconds",
            f"  no support ticket: Neuer Zugang with {world.MUSTERSTADT.people[5].address}, "
            f"then \"Meine VHS um Hilfe bitten\" in the mail, then the console's "
            f"Hilfe-Anfragen",
            f"  imported from the old vhsKOOP login: vhs Altstadt, "
            f"{cutover.address(cutover.PEOPLE[0][0])} (and {issuer}/demo/ for the others), "
            f"old password {json.dumps(cutover.PASSWORD)}",
            f"  commands against this instance: IDP_ENV=development "
            f"IDP_INSTANCE_PATH={self.app.instance_path} {idp} ...",
        ]

    def stop(self) -> None:
        """Stop the mail server and the portal simulator."""
        self.mailbox.stop()
        self.portal.stop()
        self.old_login.stop()


def reset(app: Flask, folder: Path, database: bool = True) -> None:
    """``demo --reset``: remove the demo's programs (in ``folder``) and, with
    ``database`` and when it is a SQLite file, the provider's database, so the next start
    builds the world anew."""
    shutil.rmtree(folder / "programs", ignore_errors=True)
    url = make_url(app.config["DATABASE_URL"])
    if database and url.drivername.startswith("sqlite") and url.database:
        db.engine(app).dispose()
        for suffix in ("", "-wal", "-shm"):  # the journal of the old file goes with it
            Path(url.database + suffix).unlink(missing_ok=True)


def _unchanged(address: str) -> bool:
    """Whether the account ``address`` still has the demo password."""
    account = db.session().scalar(select(Account).where(Account.address == address))
    return account is not None and passwords().verify(account.password_hash, PASSWORD)


def _password(address: str) -> str:
    """The demo password of ``address`` as the banner prints it, or that it was changed."""
    if _unchanged(address):
        return json.dumps(PASSWORD, ensure_ascii=False)
    return "(changed since: use Passwort vergessen)"


def _program(name: str) -> str:
    """How to call ``name`` of this installation from here (".venv/bin/vhskoop-idp")."""
    path = Path(sys.executable).parent / name
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _sent(header: str | None) -> str:
    """A mail's Date header the pages' way ("02.12.2026, 14:05 Uhr"), not RFC 5322's."""
    try:
        return labels.moment(int(parsedate_to_datetime(header).timestamp()))
    except (TypeError, ValueError):
        return header or ""


def _demo() -> Demo:
    return current_app.extensions["idp.demo"]


@bp.get("/")
def home():
    """Everyone to try, and where, with what each one's account is now."""
    addresses = [person.address for spec in world.VHS for person in spec.people]
    now_state = {address: status for address, status in db.session().execute(
        select(Account.address, Account.status).where(Account.address.in_(addresses)))}
    unchanged = {address for address in (world.MUSTERSTADT.people[0].address,
                                         world.ADMIN.address, world.LEAVER.address)
                 if _unchanged(address)}
    imported = {address: hashed is None for address, hashed in db.session().execute(
        select(Account.address, Account.password_hash).where(Account.address.in_(
            [cutover.address(local) for local, _, _ in cutover.PEOPLE])))}
    return render_template("demo/index.html", vhs=world.VHS, services=SERVICES,
                           password=PASSWORD, unchanged=unchanged, state=now_state,
                           states=STATES, portal_password=PORTAL_PASSWORD, admin=world.ADMIN,
                           cutover=cutover, imported=imported)


@bp.get("/mails")
def mails():
    """What the demo VHS's mail server received, newest first."""
    received = [{"to": m["To"], "subject": m["Subject"], "date": _sent(m["Date"]),
                 "text": m.get_body(("plain",)).get_content()}
                for m in reversed(_demo().mailbox.messages)]
    return render_template("demo/mails.html", mails=received)


class ProgramForm(FlaskForm):
    """One user of the demo program: address, active, "Im Internet anzeigen"."""


@bp.get("/programs/<slug>")
def program(slug: str):
    """The demo VHS's Benutzerverwaltung, editable: what a VHS changes in KuferSQL."""
    spec = _spec(slug)
    return render_template("demo/program.html", spec=spec, form=ProgramForm(),
                           rows=world.read_program(_demo().program_url(spec.slug)))


@bp.post("/programs/<slug>/<int:user_id>")
def program_change(slug: str, user_id: int):
    """Store one user's changed row, as the VHS would in its program."""
    spec = _spec(slug)
    if not ProgramForm().validate_on_submit():
        abort(400)
    email = (request.form.get("email") or "")[:320]
    world.change_program(_demo().program_url(spec.slug), user_id, email,
                         bool(request.form.get("aktiv")),
                         bool(request.form.get("internet_anzeigen")))
    return redirect(url_for("demo.program", slug=spec.slug), 303)


def _spec(slug: str) -> world.DemoVhs:
    for spec in world.VHS:
        if spec.slug == slug:
            return spec
    abort(404)
