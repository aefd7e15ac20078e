"""Benchmark: the provider under gunicorn on loopback, requests per second per worker.

    .venv/bin/python bench/run.py [--runs 3] [--seconds 5] [--workers 1] [--concurrency 4]
                                  [--database-url postgresql+psycopg://postgres@127.0.0.1/test]

Sets up a fresh instance only through the command line (as an operator would), starts
gunicorn with sync workers, and for each scenario reports the median over the runs of
requests per second divided by the worker count, and p50/p99 latency. Scenarios:
static (a static file: the framework's floor, as a baseline in the same server),
discovery, JWKS, client_credentials, refresh_token (each request rotates), and the full
code flow (authorize, login page, password login, authorize again, token exchange with
PKCE: one "request" there is one whole flow). Results also go to bench/results/.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from inprocess import LIMITS_OFF

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "Bench-Passwort-2026"
CALLBACK = "http://127.0.0.1:9/callback"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Provider:
    """A fresh provider instance set up through the CLI and served by gunicorn."""

    def __init__(self, workers: int, database_url: str | None):
        self.tmp = Path(tempfile.mkdtemp(prefix="idp-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "IDP_ENV": "production",
            "IDP_ISSUER": self.url,
            "IDP_SECRET_KEY": secrets.token_urlsafe(48),
            "IDP_INSTANCE_PATH": str(self.tmp),
            "IDP_DATABASE_URL": database_url or f"sqlite:///{self.tmp}/idp.sqlite3",
            **{f"IDP_{name}": "1000000 per minute" for name in LIMITS_OFF},
        }
        self.workers = workers
        self.process = None

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([str(BIN / "vhskoop-idp"), *args], env=self.env, input=stdin,
                              capture_output=True, text=True, check=True)
        return done.stdout

    def setup(self) -> str:
        if self.env["IDP_DATABASE_URL"].startswith("postgresql"):
            self._drop_postgres_tables()
        self.cli("db", "upgrade")
        self.cli("vhs", "add", "bench", "--name", "vhs Bench", "--onboarded")
        self.cli("accounts", "add", "--vhs", "bench", "--email", "person@vhs-bench.de",
                 "--password-stdin", stdin=PASSWORD + "\n")
        output = self.cli("clients", "add", "bench", "--first-party", "--redirect-uri", CALLBACK,
                          "--grant", "authorization_code", "--grant", "refresh_token",
                          "--grant", "client_credentials",
                          "--scope", "openid profile email offline_access")
        return output.strip().splitlines()[-1].rsplit(" ", 1)[1]

    def _drop_postgres_tables(self) -> None:
        from sqlalchemy import create_engine, text

        from idp.models import Base

        engine = create_engine(self.env["IDP_DATABASE_URL"])
        with engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(self.workers), "--bind",
             f"127.0.0.1:{self.port}", "--log-level", "warning", "idp.wsgi:app"],
            env=self.env, cwd=ROOT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/jwks.json", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        if self.process:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        shutil.rmtree(self.tmp, ignore_errors=True)


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def code_flow(url: str, secret: str, http: requests.Session | None = None) -> dict:
    """One whole sign-in in a fresh browser: returns the token response."""
    http = http or requests.Session()
    verifier = secrets.token_urlsafe(48)
    params = {"response_type": "code", "client_id": "bench", "redirect_uri": CALLBACK,
              "scope": "openid profile email offline_access", "state": secrets.token_urlsafe(8),
              "nonce": secrets.token_urlsafe(8), "code_challenge": challenge(verifier),
              "code_challenge_method": "S256"}
    first = http.get(f"{url}/authorize?{urlencode(params)}", allow_redirects=False)
    page = http.get(url + first.headers["Location"], allow_redirects=False).text
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    nxt = re.search(r'name="next" type="hidden" value="([^"]+)"', page).group(1)
    login = http.post(url + "/login", allow_redirects=False, data={
        "csrf_token": csrf, "next": nxt.replace("&amp;", "&"), "tenant": "bench",
        "email": "person@vhs-bench.de", "password": PASSWORD})
    done = http.get(url + login.headers["Location"], allow_redirects=False)
    code = parse_qs(urlsplit(done.headers["Location"]).query)["code"][0]
    token = requests.post(url + "/token", auth=("bench", secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": verifier})
    token.raise_for_status()
    return token.json()


def scenarios(url: str, secret: str):
    """name -> a factory making one worker's callable (state kept per thread)."""
    def simple(method, path, **kwargs):
        def factory():
            http = requests.Session()

            def call():
                response = http.request(method, url + path, **kwargs)
                response.raise_for_status()
            return call
        return factory

    def refresh_factory():
        http = requests.Session()
        state = {"refresh": code_flow(url, secret)["refresh_token"]}

        def call():
            response = http.post(url + "/token", auth=("bench", secret), data={
                "grant_type": "refresh_token", "refresh_token": state["refresh"]})
            response.raise_for_status()
            state["refresh"] = response.json()["refresh_token"]
        return call

    return {
        "static (baseline)": simple("GET", "/static/idp.css"),
        "discovery": simple("GET", "/.well-known/openid-configuration"),
        "jwks": simple("GET", "/jwks.json"),
        "client_credentials": simple("POST", "/token", auth=("bench", secret),
                                     data={"grant_type": "client_credentials"}),
        "refresh_token": refresh_factory,
        "code flow + password login": lambda: (lambda: code_flow(url, secret)),
    }


def measure(factory, seconds: float, concurrency: int) -> list[float]:
    """Run ``concurrency`` threads for ``seconds``; returns every latency in seconds."""
    callables = [factory() for _ in range(concurrency)]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[BaseException] = []
    stop_at = time.perf_counter() + seconds

    def loop(index):
        call = callables[index]
        try:
            while time.perf_counter() < stop_at:
                start = time.perf_counter()
                call()
                latencies[index].append(time.perf_counter() - start)
        except BaseException as error:  # surfaced below, the run is then invalid
            errors.append(error)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [value for values in latencies for value in values]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    provider = Provider(args.workers, args.database_url)
    secret = provider.setup()
    provider.start()
    try:
        results = {}
        for name, factory in scenarios(provider.url, secret).items():
            runs = []
            for _ in range(args.runs):
                latencies = measure(factory, args.seconds, args.concurrency)
                runs.append({"rps": len(latencies) / args.seconds / args.workers,
                             "p50": percentile(latencies, 0.50),
                             "p99": percentile(latencies, 0.99)})
            median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            results[name] = {"median": median, "runs": runs}
            print(f"{name:28s} {median['rps']:8.1f} req/s/worker"
                  f"   p50 {median['p50'] * 1000:7.1f} ms"
                  f"   p99 {median['p99'] * 1000:7.1f} ms   (runs: "
                  + ", ".join(f"{r['rps']:.0f}" for r in runs) + ")", flush=True)
        baseline = results["static (baseline)"]["median"]["rps"]
        print("\nratio to the static baseline (same server, same run):")
        for name, result in results.items():
            print(f"  {name:28s} {result['median']['rps'] / baseline:6.3f}")
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        (out / f"{stamp}.json").write_text(json.dumps(
            {"args": vars(args), "cpus": os.cpu_count(), "results": results}, indent=2))
    finally:
        provider.stop()


if __name__ == "__main__":
    main()
