"""Two provider instances behind one address: separate processes (granian, as in
production) on one PostgreSQL database and one Redis, sharing the keys folder.

A person signs in on A, the code is redeemed on B, the refresh token used on A; a key
rotated through B's configuration is used by A within IDP_KEYS_RELOAD_SECONDS; failures
counted on A and B add up to one throttle; a logout on B ends the session on A; both run
the mail worker, and each mail leaves once. In CI the run fails, never skips, when
PostgreSQL or Redis is missing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets as random
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from idp import create_app, db
from idp.cli import runner as cli_runner

from ..helpers import PASSWORD, Browser, form_field, free_port, query, require_service, secret

pytestmark = pytest.mark.once

BIN = Path(sys.executable).parent
CALLBACK = "http://127.0.0.1:9/cb"
ANNA = "anna.muster@vhs-straubing.de"
SCOPE = "openid email offline_access"


@pytest.fixture
def database():
    """A database of its own on the PostgreSQL server of the test run, dropped after."""
    url = os.environ.get("IDP_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    server = url.replace("postgresql+psycopg://", "postgresql://")
    name = f"idp_instances_{random.token_hex(4)}"
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=3) as connection:
            connection.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as error:
        require_service("PostgreSQL", error)
    yield url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Instances:
    """Two servers, A and B, with one configuration (one issuer: they stand behind one
    load balancer), and the command line with the same configuration."""

    def __init__(self, tmp_path, database, redis_url):
        self.ports = free_port(), free_port()
        self.issuer = f"http://127.0.0.1:{self.ports[0]}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
        self.env.update({
            "IDP_ENV": "production", "IDP_ISSUER": self.issuer,
            "IDP_SECRET_KEY": secret(random.token_urlsafe(40)),
            "IDP_DATABASE_URL": database, "IDP_REDIS_URL": redis_url,
            "IDP_KEYS_DIR": str(tmp_path / "keys"), "IDP_INSTANCE_PATH": str(tmp_path),
            "IDP_KEYS_RELOAD_SECONDS": "1", "IDP_ARGON2_TIME_COST": "1",
            "IDP_ARGON2_MEMORY_COST": "8192", "IDP_SELFSERVICE_ANSWER_SECONDS": "0",
            "IDP_THROTTLE_IP": "6 per minute", "IDP_THROTTLE_ADDRESS_IP": "100 per minute",
            "IDP_MAIL_INTERVAL_SECONDS": "0"})
        self.logs = [open(tmp_path / f"server-{n}.log", "w") for n in "AB"]
        self.servers = []
        self.app = None

    def cli(self, *args, input=None) -> str:
        """``vhskoop-idp ARGS`` as a process of its own, with the instances' environment."""
        done = subprocess.run([str(BIN / "vhskoop-idp"), *args], env=self.env, input=input,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def command(self, *args, input=None) -> str:
        """``vhskoop-idp ARGS`` in this process, on an app built from the instances'
        environment (the same configuration; a process start costs two seconds)."""
        if self.app is None:
            saved = dict(os.environ)
            os.environ.clear()
            os.environ.update(self.env)
            try:
                self.app = create_app()
            finally:
                os.environ.clear()
                os.environ.update(saved)
        result = cli_runner(self.app).invoke(args=list(args), input=input)
        assert result.exit_code == 0, result.output
        return result.output

    def start(self) -> None:
        for port, log in zip(self.ports, self.logs):
            self.servers.append(subprocess.Popen(
                [str(BIN / "granian"), "--interface", "wsgi", "--workers", "1",
                 "--blocking-threads", "2", "--host", "127.0.0.1", "--port", str(port),
                 "--no-access-log", "idp.wsgi:app"], env=self.env, stdout=log, stderr=log))
        for url in self.urls:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, f"{url} did not become ready"
                assert all(server.poll() is None for server in self.servers), "a server died"
                time.sleep(0.2)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def stop(self) -> None:
        for server in self.servers:
            server.terminate()
        for server in self.servers:
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        for log in self.logs:
            log.close()
        if self.app is not None:
            db.engine(self.app).dispose()


@pytest.fixture
def instances(tmp_path, database, redis_url, smtp):
    both = Instances(tmp_path, database, redis_url)
    both.cli("db", "upgrade")
    both.command("vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    both.command("vhs", "set-mail", "straubing", "--host", "127.0.0.1", "--port", str(smtp.port),
             "--security", "none", "--sender", "info@vhs-straubing.de")
    both.command("accounts", "add", "--vhs", "straubing", "--email", ANNA, "--name",
                 "Anna Muster", "--password-stdin", input=PASSWORD + "\n")
    both.secret = secret(random.token_urlsafe(32))
    both.command("clients", "add", "rp", "--secret", both.secret, "--redirect-uri", CALLBACK,
             "--grant", "authorization_code", "--grant", "refresh_token", "--scope", SCOPE,
             "--first-party")
    both.start()
    yield both
    both.stop()


def authorization(issuer: str) -> tuple[str, str]:
    """An authorization URL with PKCE at ``issuer``, and its verifier."""
    verifier = random.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    return (f"{issuer}/authorize?client_id=rp&response_type=code&scope=openid+email+"
            f"offline_access&redirect_uri={CALLBACK}&state=s&nonce={random.token_hex(8)}"
            f"&code_challenge={challenge}&code_challenge_method=S256"), verifier


def token(url: str, client_secret: str, **form) -> requests.Response:
    return requests.post(url + "/token", data=form, auth=("rp", client_secret), timeout=10)


def sign_in(browser: Browser, issuer: str) -> tuple[str, str]:
    """Anna signs in at ``issuer``; (the code, its verifier)."""
    url, verifier = authorization(issuer)
    response = browser.authorize(url, "straubing", ANNA, PASSWORD)
    assert response.status_code == 302 and response.headers["Location"].startswith(CALLBACK)
    return secret(query(response.headers["Location"])["code"]), verifier


def kid(id_token: str) -> str:
    header = json.loads(base64.urlsafe_b64decode(id_token.split(".")[0] + "=="))
    return header["kid"]


@pytest.mark.e2e
def test_code_on_b_refresh_on_a_keys_rotated_through_b_reach_a(instances):
    a, b = instances.urls
    browser = Browser(a)
    code, verifier = sign_in(browser, a)
    redeemed = token(b, instances.secret, grant_type="authorization_code", code=code,
                     redirect_uri=CALLBACK, code_verifier=verifier)
    assert redeemed.status_code == 200, redeemed.text
    tokens = redeemed.json()
    refreshed = token(a, instances.secret, grant_type="refresh_token",
                      refresh_token=secret(tokens["refresh_token"]))
    assert refreshed.status_code == 200, refreshed.text
    userinfo = requests.get(b + "/userinfo", timeout=10, headers={
        "Authorization": "Bearer " + secret(refreshed.json()["access_token"])})
    assert userinfo.status_code == 200 and userinfo.json()["email"] == ANNA

    before = kid(tokens["id_token"])
    instances.cli("keys", "rotate")  # B's configuration: the shared keys folder
    time.sleep(1.5)  # IDP_KEYS_RELOAD_SECONDS=1
    published_b = requests.get(b + "/jwks.json", timeout=10).json()
    published_a = requests.get(a + "/jwks.json", timeout=10).json()
    assert published_a == published_b
    code, verifier = sign_in(Browser(a), a)
    fresh = token(a, instances.secret, grant_type="authorization_code", code=code,
                  redirect_uri=CALLBACK, code_verifier=verifier).json()
    after = kid(fresh["id_token"])
    assert after != before
    keys = KeySet.import_key_set(published_a)
    for id_token in (tokens["id_token"], fresh["id_token"]):  # old and new verify on A
        assert jwt.decode(id_token, keys).claims["email"] == ANNA


@pytest.mark.e2e
def test_throttle_counts_failures_on_both(instances):
    a, b = instances.urls
    answers = []
    for number in range(8):  # IDP_THROTTLE_IP: 6 failures a minute, wherever they land
        browser = Browser((a, b)[number % 2])
        answers.append(browser.login(None, "straubing", ANNA, "wrong-" + "x" * 12)
                       .status_code)
    assert answers[:6] == [401] * 6 and answers[6:] == [429, 429], answers


@pytest.mark.e2e
def test_logout_on_b_ends_the_session_on_a(instances):
    a, b = instances.urls
    browser = Browser(a)
    sign_in(browser, a)
    assert browser.get(a + "/account").status_code == 200
    page = browser.get(b + "/")
    assert page.status_code == 200 and "Abmelden" in page.text  # B knows the session too
    answer = browser.post(b + "/end_session/confirm",
                          {"csrf_token": form_field(page.text, "csrf_token")})
    assert answer.status_code == 200, answer.text
    assert browser.get(a + "/account").status_code in (302, 303)
    url, _ = authorization(a)
    silent = browser.get(url + "&prompt=none")
    assert query(silent.headers["Location"])["error"] == "login_required"


@pytest.mark.e2e
def test_mail_workers_on_both_send_each_mail_once(instances, smtp):
    a, b = instances.urls
    people = [f"person{number}@vhs-straubing.de" for number in range(12)]
    for person in people:
        instances.command("accounts", "add", "--vhs", "straubing", "--email", person,
                          "--password-stdin", input=PASSWORD + "\n")
    for number, person in enumerate(people):  # "Passwort vergessen" on A and B
        browser = Browser((a, b)[number % 2])
        page = browser.get("/passwort-vergessen")
        sent = browser.post("/passwort-vergessen", {
            "csrf_token": form_field(page.text, "csrf_token"), "tenant": "straubing",
            "email": person})
        assert sent.status_code == 200, sent.text
    workers = [subprocess.Popen([str(BIN / "vhskoop-idp"), "mail-worker", "--once"],
                                env=instances.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for _ in "AB"]
    for worker in workers:
        output, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, output
    recipients = sorted(message["To"] for message in smtp.messages)
    assert recipients == sorted(people)
    assert len({message["Message-ID"] for message in smtp.messages}) == len(people)
