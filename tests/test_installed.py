"""What ships is what is tested: the wheel that ``pip install .`` builds.

- The wheel holds every file of the three packages' trees (templates, static files,
  translations, migrations, data): compared with the tree, not with a list kept by hand.
- Installed non-editable into a fresh virtual environment and started from a folder
  outside the checkout with the production command of docs/operating.md (granian), it serves every
  page: each GET route the installed ``vhskoop-idp routes`` lists (the console's included,
  signed in as an ITEM operator with an authenticator app set up through the pages),
  discovery and a whole code flow; ``vhskoop-idp demo`` serves the demo's pages.

The server runs on the run's database kind: a SQLite file, or on PostgreSQL a database of
its own (``idp_installed_<worker>``) on the server of IDP_TEST_DATABASE_URL.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pyotp
import pytest
import requests
from sqlalchemy.engine import make_url

from .helpers import (
    CALLBACK,
    PASSWORD,
    SECRET,
    Browser,
    RelyingParty,
    ServerProcess,
    clean_environment,
    form_field,
    free_port,
    locked,
    own_name,
    secret,
    shared_folder,
)

pytestmark = pytest.mark.once  # the wheel is the same on either database

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("idp", "adapters", "keys")
NOT_SHIPPED = re.compile(r"(^|/)__pycache__/|\.py[cod]$")
SLUG, ADDRESS = "straubing", "anna.muster@vhs-straubing.de"
OTHER = "bert.beispiel@vhs-straubing.de"  # no console role, no second factor


def tree_files() -> set[str]:
    """Every file of the packages in the checkout, as paths inside a wheel."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            name = path.relative_to(ROOT).as_posix()
            if path.is_file() and not NOT_SHIPPED.search(name):
                found.add(name)
    return found


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The wheel ``pip`` builds from a copy of the checkout (no build folder left behind,
    none reused from an earlier run); built once per run, whichever worker asks first."""
    shared = shared_folder(tmp_path_factory)
    out = shared / "wheel"
    with locked(shared / "wheel.lock"):
        if not out.exists():
            source = shared / "source" / "vhskoop-idp"
            shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
                ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "instance",
                "docs", "site"))
            building = shared / "wheel-building"
            subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                            str(building), str(source)], check=True, timeout=600)
            building.rename(out)
    [built] = out.glob("vhskoop_idp-*.whl")
    return built


def test_the_wheel_holds_every_file_of_the_packages(wheel):
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if name.split("/")[0] in PACKAGES}
    missing = tree_files() - shipped
    assert not missing, f"missing from the wheel: {sorted(missing)}"
    assert "idp/templates/admin/people.html" in shipped  # the console's pages, for one


@pytest.fixture(scope="session")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed (not editable); its bin/. Made
    once per run, whichever worker asks first."""
    shared = shared_folder(tmp_path_factory)
    venv = shared / "venv"
    with locked(shared / "venv.lock"):
        if not (venv / "installed").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
            subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-compile",
                            str(wheel)],
                           check=True, timeout=900, cwd=venv)
            (venv / "installed").touch()
    return venv / "bin"


def readme_production_command() -> tuple[dict[str, str], list[str]]:
    """The environment and argv of the production server command of docs/operating.md."""
    page = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    section = page.split("# Running it for real", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    start = block.index("MALLOC_ARENA_MAX")
    words = shlex.split(block[start:].replace("\\\n", " "), comments=True)
    environment = {}
    while "=" in words[0] and not words[0].startswith("/"):
        name, _, value = words.pop(0).partition("=")
        environment[name] = value
    assert Path(words[0]).name == "granian", words
    return environment, words


def own_database(tmp_path: Path) -> str:
    """A SQLite file, or a fresh PostgreSQL database beside the run's."""
    url = os.environ.get("IDP_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    import psycopg

    server, name = make_url(url), own_name("idp_installed")
    admin_url = server.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False)


class Installed:
    """The installed provider, set up and served from a folder outside the checkout."""

    def __init__(self, bin_dir: Path, home: Path):
        self.bin, self.home = bin_dir, home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        metrics = home / "metrics"
        metrics.mkdir()
        self.env = clean_environment()
        self.env.update(IDP_ISSUER=self.url, IDP_SECRET_KEY=SECRET,
                        IDP_DATABASE_URL=own_database(home),
                        IDP_KEYS_DIR=str(home / "signing-keys"),
                        IDP_ARGON2_MEMORY_COST="8192", IDP_ARGON2_TIME_COST="2",
                        PROMETHEUS_MULTIPROC_DIR=str(metrics))
        self.server: ServerProcess | None = None

    def cli(self, *args: str, input: str | None = None) -> str:
        """``vhskoop-idp ARGS`` of the installed package; its output."""
        result = subprocess.run([str(self.bin / "vhskoop-idp"), *args], input=input,
                                capture_output=True, text=True, env=self.env, cwd=self.home,
                                timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def serve(self) -> None:
        """Start the documented production command on a free port; wait until it answers."""
        environment, argv = readme_production_command()
        argv[0] = str(self.bin / "granian")
        argv[argv.index("--port") + 1] = str(self.port)
        self.server = ServerProcess(argv, self.url, {**self.env, **environment}, self.home)

    def stop(self) -> str:
        """Stop the server; what it wrote to standard error."""
        return self.server.stop() if self.server is not None else ""


@pytest.fixture(scope="module")
def production(installed, tmp_path_factory):
    """The installed provider under granian, with a VHS, an account that is an ITEM
    operator, and a relying party."""
    server = Installed(installed, tmp_path_factory.mktemp("production"))
    server.cli("db", "upgrade")
    server.cli("vhs", "add", SLUG, "--name", "vhs Straubing", "--onboarded")
    server.cli("accounts", "add", "--vhs", SLUG, "--email", ADDRESS, "--name", "Anna Muster",
               "--password-stdin", input=secret(PASSWORD) + "\n")
    server.cli("admins", "grant", "--vhs", SLUG, "--email", ADDRESS, "--operator")
    output = server.cli("clients", "add", "vhskoop", "--redirect-uri", CALLBACK,
                        "--grant", "authorization_code", "--grant", "refresh_token",
                        "--scope", "openid profile email offline_access", "--first-party")
    server.client_secret = secret(next(line.rsplit(" ", 1)[1] for line in output.splitlines()
                                       if line.startswith("client secret")))
    server.cli("accounts", "add", "--vhs", SLUG, "--email", OTHER, "--password-stdin",
               input=PASSWORD + "\n")
    try:
        server.serve()
        yield server
    finally:
        errors = server.stop()
    assert "Traceback" not in errors, errors[-5000:]


def with_totp(server: Installed) -> Browser:
    """Anna signed in, with an authenticator app set up on /account/zweiter-faktor the way
    a person does it (the secret read off the page)."""
    browser = Browser(server.url)
    assert browser.login(None, SLUG, ADDRESS, PASSWORD).status_code == 303
    page = browser.get("/account/zweiter-faktor")
    assert page.status_code == 200, page.text
    page = browser.post("/account/zweiter-faktor/app",
                        {"csrf_token": form_field(page.text, "csrf_token")})
    assert page.status_code == 200, page.text
    key = secret(re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1))
    confirmed = browser.post("/account/zweiter-faktor/app/bestaetigen", {
        "csrf_token": form_field(page.text, "csrf_token"),
        "code": pyotp.TOTP(key).now()})
    assert confirmed.status_code in (200, 303), confirmed.text
    return browser


def routes(server: Installed) -> list[tuple[str, str]]:
    """(endpoint, rule) of every GET route the installed package serves."""
    found = []
    for line in server.cli("routes").splitlines()[2:]:
        endpoint, methods, rule = line.split()[0], line.split()[1], line.split()[-1]
        if "GET" in methods.split(","):
            found.append((endpoint, rule))
    return found


NOT_NOW = {"protocol.end_session"}  # it ends the session the walk needs; asked last


def test_the_installed_package_serves_every_page(production, installed):
    browser = with_totp(production)
    account_id = re.search(r"/people/(\d+)", browser.get(
        f"/admin/vhs/{SLUG}/people").text).group(1)
    static = sorted(p.name for p in (Path(installed).parent / "lib").glob(
        "python3*/site-packages/idp/static/*.js"))
    values = {"slug": SLUG, "client_id": "vhskoop", "account_id": account_id,
              "filename": static[0]}
    walked = {}
    for endpoint, rule in routes(production):
        if endpoint in NOT_NOW:
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule)
        answer = browser.get(path)
        walked[path] = answer.status_code
        assert answer.status_code < 500, (path, answer.text[:2000])
    expected_pages = ["/login", "/neuer-zugang", "/passwort-vergessen", "/hilfe", "/account",
                      "/account/zweiter-faktor", "/admin/", "/admin/clients",
                      "/admin/clients/vhskoop", "/admin/dashboard", "/admin/keys",
                      "/admin/outbox", "/admin/audit", f"/admin/vhs/{SLUG}/settings",
                      f"/admin/vhs/{SLUG}/people", f"/admin/vhs/{SLUG}/people/{account_id}",
                      f"/admin/vhs/{SLUG}/diagnose", f"/admin/vhs/{SLUG}/kma",
                      f"/admin/vhs/{SLUG}/mail", f"/admin/vhs/{SLUG}/program",
                      f"/admin/vhs/{SLUG}/requests", "/.well-known/openid-configuration",
                      "/jwks.json", "/healthz", "/readyz", f"/static/{static[0]}"]
    assert {page: walked.get(page) for page in expected_pages} == dict.fromkeys(
        expected_pages, 200)
    assert "Herzlich willkommen" in browser.get("/login").text
    assert "Forgot password" in browser.get("/login?lang=en").text  # the catalogue


def test_the_installed_package_runs_a_code_flow(production):
    rp = RelyingParty(production.url, "vhskoop", production.client_secret)
    assert rp.metadata["issuer"] == production.url
    browser = Browser(production.url)
    answer = browser.authorize(rp.authorization_url(), SLUG, OTHER, PASSWORD)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(CALLBACK)
    token = rp.fetch_token(answer.headers["Location"])
    assert rp.verify_id_token(token)["sub"]
    info = requests.get(production.url + "/userinfo", timeout=10, headers={
        "Authorization": f"Bearer {token['access_token']}"}).json()
    assert info["vhs"] == SLUG and info["email"] == OTHER
    assert rp.refresh(token["refresh_token"])["access_token"]


def test_the_installed_demo_serves_its_pages(installed, tmp_path):
    port = free_port()
    env = {**clean_environment(), "IDP_INSTANCE_PATH": str(tmp_path / "instance")}
    demo = ServerProcess([str(installed / "vhskoop-idp"), "demo", "--port", str(port)],
                         f"http://127.0.0.1:{port}", env, tmp_path, seconds=180)
    try:
        for path in ("/demo/", "/demo/mails", "/demo/programs/musterstadt", "/demo/vhskoop/",
                     "/demo/feedback/", "/login", "/neuer-zugang"):
            answer = requests.get(demo.url + path, timeout=10)
            assert answer.status_code == 200, (path, answer.text[:2000])
    finally:
        errors = demo.stop()
    assert "Traceback" not in errors, errors[-5000:]
