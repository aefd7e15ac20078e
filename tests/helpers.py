"""Small actions a person, an operator or a relying party takes: over real HTTP, through
Flask's test client, or on the command line."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import html
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pyotp
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select
from werkzeug.serving import make_server

from idp import accounts, db, factors, links, mail, tenants
from idp.cli import runner as cli_runner
from idp.dev.proxy import TcpProxy
from idp.dev.serving import QuietRequestHandler
from idp.models import (
    Account,
    AccountToken,
    EligibilityCheck,
    HelpRequest,
    OutboxMail,
    Purpose,
    SsoSession,
    TotpFactor,
    Vhs,
    digest,
    now,
)

__all__ = ["TcpProxy"]  # the fault tests' proxy lives with the simulators (idp.dev)

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")  # gw0, gw1, ... under pytest-xdist
PLAIN_COOKIES = ("idp_vhs", "idp_lang")  # the last VHS chosen, the language: not secret
SECRETS: set[str] = set()  # every secret the tests used: none may reach a log or the audit
LOGGED: list[str] = []  # every log record of the session, as formatted
AUDITED: list[str] = []  # every audit row of the session, as text


def secret(value):
    """Remember ``value`` as a secret (passwords, tokens, codes, cookies); returns it."""
    if isinstance(value, str) and len(value) >= 8:
        SECRETS.add(value)
    return value


# Not the provider's: urllib3's DEBUG lines are the requests of the tests' own HTTP clients
# (the browser, relying parties), whose URLs carry codes by design; mail.log is aiosmtpd's,
# the VHS's mail server receiving the mail with the link. Their DEBUG records are not even
# made (tests/conftest.py sets these loggers to INFO): nothing else is left out of the scan.
NOT_SCANNED = ("urllib3", "mail.log")


def leaks(lines, secrets) -> list[tuple[str, str]]:
    """Each (secret, line) where one of ``secrets`` appears in one of ``lines``."""
    text = "\n".join(lines)
    found = []
    for value in secrets:
        start = text.find(value)
        while start != -1:
            line_start = text.rfind("\n", 0, start) + 1
            line_end = text.find("\n", start)
            found.append((value, text[line_start:line_end if line_end != -1 else None][:300]))
            start = text.find(value, line_end) if line_end != -1 else -1
    return found


class Capture(logging.Handler):
    """Keeps every log record of the test session as the text a log file would get."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            LOGGED.append(self.format(record))
        except Exception:  # noqa: BLE001 - a broken record is no secret
            LOGGED.append(str(record.msg))


def form_field(page: str, name: str) -> str:
    """The value of a named input in an HTML page."""
    match = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', page) or re.search(
        rf'value="([^"]*)"[^>]*name="{re.escape(name)}"', page)
    assert match, f"no field {name!r} in page"
    return html.unescape(match.group(1))


def query(url: str) -> dict[str, str]:
    """The query parameters of a URL, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class Browser:
    """A browser that keeps cookies and lets the test follow redirects one by one."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def get(self, url: str, **kwargs) -> requests.Response:
        return self._kept(self.http.get(urljoin(self.base, url), allow_redirects=False,
                                        timeout=10, **kwargs))

    def post(self, url: str, data: dict, **kwargs) -> requests.Response:
        return self._kept(self.http.post(urljoin(self.base, url), data=data,
                                         allow_redirects=False, timeout=10, **kwargs))

    def _kept(self, response: requests.Response) -> requests.Response:
        for cookie in self.http.cookies:
            if cookie.name not in PLAIN_COOKIES:
                secret(cookie.value)
        if "code=" in response.headers.get("Location", ""):
            secret(query(response.headers["Location"]).get("code"))
        return response

    def login(self, next_url: str | None, tenant: str, email: str, password: str,
              remember: bool = False) -> requests.Response:
        """Fill in and send the login form, as reached from ``next_url``."""
        page = self.get(next_url or "/login")
        assert page.status_code == 200, page.text
        data = {
            "csrf_token": form_field(page.text, "csrf_token"),
            "next": form_field(page.text, "next"),
            "tenant": tenant,
            "email": email,
            "password": secret(password),
        }
        if remember:
            data["remember"] = "y"
        return self.post("/login", data)

    def authorize(self, authorization_url: str, tenant: str | None = None,
                  email: str | None = None, password: str | None = None,
                  until: str | None = None) -> requests.Response:
        """Follow an authorization request through login until it leaves the provider
        (or until a redirect to the path ``until``)."""
        response = self.get(authorization_url)
        for _ in range(8):
            location = response.headers.get("Location", "")
            if response.status_code not in (302, 303) or not location.startswith(
                    (self.base, "/")) or (until and urlsplit(location).path == until):
                return response
            if urlsplit(location).path == "/login":
                response = self.login(location, tenant, email, password)
            else:
                response = self.get(location)
        raise AssertionError("redirect loop")


class RelyingParty:
    """A relying party built on Authlib's requests client (a third-party OIDC client)."""

    def __init__(self, issuer: str, client_id: str, client_secret: str | None = None,
                 redirect_uri: str = "http://127.0.0.1:8765/callback",
                 scope: str = "openid profile email offline_access"):
        self.metadata = requests.get(issuer + "/.well-known/openid-configuration",
                                     timeout=10).json()
        self.client_id = client_id
        self.session = OAuth2Session(
            client_id,
            client_secret,
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if client_secret else "none",
        )
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(16)
        self.state = None

    def authorization_url(self, **extra) -> str:
        url, self.state = self.session.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=self.verifier,
            nonce=self.nonce, **extra)
        return url

    def fetch_token(self, callback_url: str) -> dict:
        secret(query(callback_url).get("code"))
        secret(self.verifier)
        return self._kept(self.session.fetch_token(
            self.metadata["token_endpoint"], authorization_response=callback_url,
            code_verifier=self.verifier))

    @staticmethod
    def _kept(token: dict) -> dict:
        for name in ("access_token", "refresh_token", "id_token"):
            secret(token.get(name))
        return token

    def verify_id_token(self, token: dict) -> dict:
        """Check signature against the JWKS and every claim OIDC Core 3.1.3.7 asks."""
        jwks = KeySet.import_key_set(requests.get(self.metadata["jwks_uri"], timeout=10).json())
        decoded = jwt.decode(token["id_token"], jwks, algorithms=["RS256", "ES256"])
        claims = CodeIDToken(
            decoded.claims, decoded.header,
            options={"iss": {"essential": True, "value": self.metadata["issuer"]},
                     "aud": {"essential": True, "value": self.client_id}},
            params={"nonce": self.nonce, "access_token": token["access_token"],
                    "client_id": self.client_id},
        )
        claims.validate(leeway=5)
        return {**claims, "_header": decoded.header}

    def refresh(self, refresh_token: str) -> dict:
        return self._kept(self.session.refresh_token(self.metadata["token_endpoint"],
                                                     refresh_token=refresh_token))


PASSWORD = "richtig-langes-Passwort-1"
SECRET = "test-secret-key-that-is-long-enough-0123456789"
CALLBACK = "http://127.0.0.1:8765/callback"


def app_settings(database_url, keys_dir, **extra):
    """The settings of a test's app: production mode, cheap Argon2id, no answer delay."""
    settings = {
        "ENV": "production",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "KEYS_DIR": str(keys_dir),
        "ARGON2_MEMORY_COST": 8192,
        "ARGON2_TIME_COST": 2,
        "SELFSERVICE_ANSWER_SECONDS": 0,  # bench/access_timing.py measures the real one
    }
    settings.update(extra)
    return settings


def run(runner, *args, input=None, code=0):
    """Run ``vhskoop-idp ARGS`` and expect exit status ``code``; the output."""
    secret((input or "").strip())
    result = runner.invoke(args=list(args), input=input)
    assert result.exit_code == code, result.output
    return result.output


def write_config(tmp_path, **options) -> str:
    """An adapter's TOML options file."""
    lines = [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    path = tmp_path / "adapter.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def add_client(live, client_id="vhskoop", *extra):
    """Register a client with code and refresh grants at a live provider; its secret."""
    output = live.cli("clients", "add", client_id, "--redirect-uri", CALLBACK,
                      "--post-logout-redirect-uri", "http://127.0.0.1:8765/bye",
                      "--grant", "authorization_code", "--grant", "refresh_token",
                      "--scope", "openid profile email offline_access", *extra)
    found = None
    for line in output.splitlines():
        if line.startswith("client secret"):
            found = secret(line.rsplit(" ", 1)[1])
    return found


def sign_in(live, browser, rp, **extra):
    """Anna signs in at straubing for ``rp``; the callback URL with the code."""
    response = browser.authorize(rp.authorization_url(**extra), "straubing",
                                 "anna.muster@vhs-straubing.de", PASSWORD)
    assert response.status_code == 302, response.text
    callback = response.headers["Location"]
    assert callback.startswith(CALLBACK)
    return callback


def login_form(client, next_url=None):
    """The login page and the hidden fields to post back (Flask test client)."""
    page = client.get("/login" + (f"?next={next_url}" if next_url else "")).get_data(as_text=True)
    return page, {"csrf_token": form_field(page, "csrf_token"), "next": form_field(page, "next")}


def post_login(client, tenant="straubing", email="anna.muster@vhs-straubing.de",
               password=PASSWORD, ip="127.0.0.1", **extra):
    """Post the login form (Flask test client), from the network address ``ip``."""
    _, data = login_form(client)
    data.update(tenant=tenant, email=email, password=secret(password), **extra)
    response = client.post("/login", data=data, environ_base={"REMOTE_ADDR": ip})
    for cookie in response.headers.getlist("Set-Cookie"):
        name, _, value = cookie.split(";", 1)[0].partition("=")
        if name not in PLAIN_COOKIES:
            secret(value)
    return response


def submit(client, path, email, tenant="straubing", **extra):
    """Post "Neuer Zugang" or "Passwort vergessen" (Flask test client)."""
    page = client.get(path).get_data(as_text=True)
    data = {"csrf_token": form_field(page, "csrf_token"), "tenant": tenant, "email": email,
            **extra}
    return client.post(path, data=data)


def queue_mails(app, runner, smtp, count: int, expires_at: int) -> list[str]:
    """Straubing's mail server is ``smtp``, and ``count`` test mails wait in the outbox
    (links valid until ``expires_at``); their recipients."""
    run(runner, "vhs", "set-mail", "straubing", "--host", "127.0.0.1", "--port",
        str(smtp.port), "--security", "none", "--sender", "info@vhs-straubing.de")
    recipients = [f"person{number}@vhs-straubing.de" for number in range(count)]
    with app.app_context():
        straubing = tenants.find("straubing")
        for recipient in recipients:
            mail.enqueue(straubing, recipient, "test", "Test", expires_at=expires_at)
        db.session().commit()
    return recipients


def deliver(app):
    """One delivery round of the outbox's mails; the counts."""
    with app.app_context():
        return mail.deliver_due()


def shared_folder(tmp_path_factory) -> Path:
    """The run's temporary folder that every worker sees (each has its own below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if WORKER != "main" else base


@contextmanager
def locked(path: Path):
    """Hold an exclusive lock on ``path`` (a file) while the block runs."""
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def own_name(name: str) -> str:
    """A database name of this pytest-xdist worker's own, beside ``name`` on one server."""
    return f"{name}_{WORKER}"


def require_service(name: str, error: Exception):
    """Locally a missing service skips with the reason; in CI it fails."""
    message = f"{name} is not reachable: {error}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must provide it)")
    pytest.skip(message)


class MailServer:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self):
        self.messages = []
        self.port = free_port()
        self.controller = None

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def start(self):
        """Listen (again) on the same port."""
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        """Stop listening: the mail server is down."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address):
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The provider on a real HTTP server on 127.0.0.1 with a free port."""

    def __init__(self, make_app, host_name="127.0.0.1", **settings):
        holder = self.holder = {}
        self.server = make_server("127.0.0.1", 0, lambda e, s: holder["app"](e, s),
                                  threaded=True, request_handler=QuietRequestHandler)
        # Another host name keeps two providers' cookies apart in one test browser.
        self.url = f"http://{host_name}:{self.server.server_port}"
        self.app = make_app(ISSUER=self.url, **settings)
        holder["app"] = self.app
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def serve(self, wsgi) -> None:
        """Serve ``wsgi`` (the app wrapped, e.g. with the demo's relying parties) instead."""
        self.holder["app"] = wsgi

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def cli(self, *args, input=None):
        secret((input or "").strip())
        result = cli_runner(self.app).invoke(args=list(args), input=input)
        assert result.exit_code == 0, result.output
        return result.output


def plant_browser_session(app, set_cookie) -> None:
    """Put a value into the browser's Flask session as an attacker could (session
    fixation): ``set_cookie(name, value)`` sets the signed session cookie."""
    serializer = app.session_interface.get_signing_serializer(app)
    set_cookie(app.config["SESSION_COOKIE_NAME"], serializer.dumps({"planted": "attacker"}))


def cookie(client, name: str) -> str | None:
    """The value of a cookie the Flask test client holds, if any."""
    found = client.get_cookie(name)
    return found.value if found else None


def browser_session(app, cookie_value: str | None) -> dict:
    """The Flask session a browser holds (the signed cookie's content)."""
    if not cookie_value:
        return {}
    return app.session_interface.get_signing_serializer(app).loads(cookie_value)


def open_reset_link(app, vhs_slug: str, address: str) -> int:
    """Make a reset link for an account, as "Passwort vergessen" would; its token id."""
    with app.app_context():
        vhs = tenants.find(vhs_slug)
        account = accounts.find(vhs, address)
        links.new(account, Purpose.RESET)
        db.session().commit()
        return max(token.id for token in db.session().scalars(
            select(AccountToken).where(AccountToken.account_id == account.id)))


def assert_signed_in_anew(app, old_sso: str | None, new_sso: str | None,
                          session_cookie: str | None, reset_token_id: int | None) -> None:
    """What every sign-in path must do: a new SSO session (the old one ended), a browser
    session without anything planted before, and no reset link left open."""
    assert new_sso and new_sso != old_sso
    assert "planted" not in browser_session(app, session_cookie)
    with app.app_context():
        if old_sso:
            old = db.session().scalar(select(SsoSession).where(
                SsoSession.secret_hash == digest(old_sso)))
            assert old is None or old.ended_at is not None
        if reset_token_id is not None:
            token = db.session().get(AccountToken, reset_token_id)
            assert token.used_at is not None or token.voided_at is not None


class ServerProcess:
    """A command that serves HTTP at ``url`` (granian, the demo), in a process group of its
    own; ``stop()`` ends the group and returns what it wrote to standard error."""

    def __init__(self, argv: list[str], url: str, env: dict[str, str], cwd,
                 ready_path: str = "/healthz", seconds: float = 90):
        self.url = url
        self.process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{argv[0]} ended: {self.stop()[-3000:]}")
            try:
                if requests.get(url + ready_path, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        errors = self.stop()
        raise AssertionError(f"{url}{ready_path} did not answer in {seconds} s: {errors[-3000:]}")

    def stop(self) -> str:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            _, errors = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            _, errors = self.process.communicate()
        return errors.decode(errors="replace")


def clean_environment() -> dict[str, str]:
    """This process's environment without IDP_* settings and Python paths: for a server
    or command that must see only what a test gives it."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("IDP_", "PYTHON", "VIRTUAL_ENV"))}


def link_in(message) -> str:
    """The link (with its secret token) in a mail."""
    found = re.search(r"https?://\S+(?:token|\?t)=[\w.-]+",
                      message.get_body(("plain",)).get_content()).group(0)
    secret(found.rsplit("=", 1)[1])
    return found


def account_of(app, address: str) -> Account:
    """The account of ``address`` (one VHS's), as stored now."""
    with app.app_context():
        return db.session().scalar(select(Account).where(Account.address == address))


def give_totp(app, address: str) -> str:
    """Set up and confirm an authenticator app for the account, as its owner would on
    /account: the secret (the app's side)."""
    def enroll():
        account = db.session().scalar(select(Account).where(Account.address == address))
        key = factors.begin_totp(account)
        # confirmed with the code of the step before (within the skew): this half minute
        # and the next are left for sign-ins; a half minute may turn between making the
        # code and checking it, so a second try takes the new one before
        assert any(factors.confirm_totp(account, pyotp.TOTP(key).generate_otp(now() // 30 - 1))
                   for _ in range(2))
        factors.new_recovery_codes(account)  # as the first factor brings them on /account
        return key
    with app.app_context():
        return secret(db.transaction(enroll)())


def totp_code(app, address: str, key: str) -> str:
    """A code the server accepts now: the earliest step of the allowed skew after the
    last one used (so a test may sign in up to three times within 30 seconds)."""
    with app.app_context():
        last = db.session().scalar(select(TotpFactor.last_step).join(Account).where(
            Account.address == address))
        step, latest = max(last + 1, now() // 30 - 1), now() // 30 + 1
    assert step <= latest, "every code of this half minute is spent"
    return pyotp.TOTP(key).generate_otp(step)


def recovery_code(app, address: str) -> str:
    """A new set of recovery codes for the account; one of them."""
    def renew():
        account = db.session().scalar(select(Account).where(Account.address == address))
        return factors.new_recovery_codes(account)[0]
    with app.app_context():
        return secret(db.transaction(renew)())


def second_step(client, code: str, method: str = "totp"):
    """Answer the second step of a sign-in (Flask test client) with a code."""
    page = client.get("/login/zweiter-schritt?mit=" + method).get_data(as_text=True)
    return client.post("/login/zweiter-schritt", data={
        "csrf_token": form_field(page, "csrf_token"), "method": method, "code": code})


# What a page for VHS staff must never show (the console's words are prose, idp.labels).
FORBIDDEN = [
    (re.compile(r"\b[a-z]+(?:_[a-z]+)+\b"), "a snake_case word"),
    (re.compile(r"\bUTC\b"), "UTC"),
    (re.compile(r"vhskoop-idp|\bset-(?:mail|mfa|adapter|portal|upstream)\b|\breset-mfa\b"
                r"|\bkma (?:link|unlink)\b|\bvhs (?:add|set)\b|\bconsole:|\bcli:|(?<!\w)--[a-z]"),
     "a command name"),
    (re.compile(r"\b(?:kufersql|itm_manager|itm_connect)\b"), "an adapter id"),
    (re.compile(r"(?<![/\w.])\d{1,3}(?:\.\d{1,3}){3}:\d+"), "host:port"),
]


PLANTED_DIAGNOSIS = ('[{"ok": false, "text": "Die Adresse ist im Programm nicht freigegeben.", '
                     '"advice": "Im Programm freigeben."}]')


def plant_help_and_mails(app, address: str, answer: bool = True) -> None:
    """A help request, an unsent and a sent mail, and (``answer``) the program's answer for
    ``address`` at vhs Straubing."""
    with app.app_context():
        session = db.session()
        vhs = session.scalar(select(Vhs).where(Vhs.slug == "straubing"))
        session.add(HelpRequest(vhs_id=vhs.id, address=address, message="Ich komme nicht rein",
                                diagnosis=PLANTED_DIAGNOSIS))
        for delivered in (None, 1):
            session.add(OutboxMail(vhs_id=vhs.id, recipient=address, kind="activation",
                                   subject="Zugang", text_body="…", html_body="…",
                                   message_id=secrets.token_hex(8), next_attempt_at=0,
                                   delivered_at=delivered))
        if answer:
            session.add(EligibilityCheck(vhs_id=vhs.id, address=address, status="eligible",
                                         checked_at=1))
        session.commit()


FLOW_CALLBACK = "https://app.example/cb"


def code_flow(browser, client_id: str, client_secret: str, email: str,
              tenant: str = "straubing", scope: str = "openid profile email") -> dict:
    """The browser (Flask test client, signed in or not) goes through the code flow of
    ``client_id`` (registered with FLOW_CALLBACK) as ``email``; the token response."""
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    answer = browser.get("/authorize", query_string={
        "client_id": client_id, "response_type": "code", "redirect_uri": FLOW_CALLBACK,
        "scope": scope, "state": "s", "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge, "code_challenge_method": "S256"})
    if not answer.headers["Location"].startswith(FLOW_CALLBACK):  # not signed in yet
        page = browser.get(answer.headers["Location"]).get_data(as_text=True)
        answer = browser.post("/login", data={
            "csrf_token": form_field(page, "csrf_token"), "next": form_field(page, "next"),
            "tenant": tenant, "email": email, "password": PASSWORD})
        answer = browser.get(answer.headers["Location"])
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    tokens = browser.post("/token", headers={"Authorization": f"Basic {basic}"}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": FLOW_CALLBACK,
        "code_verifier": verifier}).get_json()
    assert "access_token" in tokens, tokens
    for name in ("access_token", "refresh_token", "id_token"):
        secret(tokens.get(name))
    return tokens
