"""A hung PostgreSQL under load: how fast is what needs no database, and how long does a
request that needs it wait for its 503?

    .venv/bin/python bench/hung_database.py            # 20 s frozen, 16 userinfo clients
    .venv/bin/python bench/hung_database.py --seconds 60 --threads 4 --turns 50   # no bound

This provider is set up through its command line and served as the documented production
command serves it (granian, 2 workers x 4 threads), with IDP_DB_TIMEOUT_SECONDS at its
default of 5 and PostgreSQL behind a TCP proxy (``idp.dev.proxy``). First the
pages that need no database are timed with the database answering (the baseline); then
the proxy stops forwarding (packets held: a stuck network, a stopped server), 16 clients
call /userinfo without pause, and discovery, JWKS, /healthz, a static file and the login
page are asked every 0.1 s. It prints, per page, p50, p99 and the longest answer before
and during the freeze, the userinfo answers by status with how long the 503s took, and how
long userinfo took to answer 200 again after the database came back.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from compare import (
    BIN,
    CLIENT_ID,
    USER,
    children,
    drop_database,
    environment,
    free_port,
    fresh_database,
    setup_ours,
    stop,
    wait_for,
)

from idp.dev.proxy import TcpProxy

ACCESS_TOKEN = f"""
from sqlalchemy import select
from idp import create_app, db, tokens
from idp.models import Account, Client, new_secret
app = create_app()
with app.app_context():
    account = db.session().scalar(select(Account).where(Account.address == {USER!r}))
    client = db.session().scalar(select(Client).where(Client.client_id == {CLIENT_ID!r}))
    token = {{"access_token": new_secret(), "expires_in": 3600, "scope": "openid email"}}
    tokens.save(token, client, account, family_id=None, code=None, sid=None)
    db.session().commit()
    print(token["access_token"])
"""

PAGES = ("/.well-known/openid-configuration", "/jwks.json", "/healthz", "/static/idp.css",
         "/login")


def timed(url: str, **kwargs) -> tuple[int, float]:
    started = time.monotonic()
    try:
        status = requests.get(url, timeout=60, **kwargs).status_code
    except requests.RequestException:
        status = 0
    return status, time.monotonic() - started


def summary(seconds: list[float]) -> str:
    if not seconds:
        return "-"
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"p50 {statistics.median(ordered) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms  "
            f"max {ordered[-1] * 1000:7.1f} ms  (n={len(ordered)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20, help="how long it hangs")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--turns", type=int, default=3, help="IDP_DB_CONCURRENT_REQUESTS")
    parser.add_argument("--timeout", type=int, default=5, help="IDP_DB_TIMEOUT_SECONDS")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hung-"))
    database = f"hung_{os.getpid()}"
    direct_url = fresh_database(database, work)
    proxy = TcpProxy("127.0.0.1", 5432)
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = environment(issuer, work, "min")
    env.update({"IDP_DB_TIMEOUT_SECONDS": str(options.timeout),
                "IDP_DB_CONCURRENT_REQUESTS": str(options.turns),
                "IDP_CLIENTS_RELOAD_SECONDS": "1",  # the login page's VHS list is old at once
                "IDP_DATABASE_URL": direct_url})
    log = work / "server.log"
    try:
        setup_ours(env, "RS256", 1)
        token = subprocess.run([sys.executable, "-c", ACCESS_TOKEN], env=env, check=True,
                               capture_output=True, text=True).stdout.strip()
        env["IDP_DATABASE_URL"] = (f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/"
                                   f"{database}")
        command = [str(BIN / "granian"), "--interface", "wsgi", "--workers",
                   str(options.workers), "--blocking-threads", str(options.threads), "--host",
                   "127.0.0.1", "--port", str(port), "--no-access-log", "idp.wsgi:app"]
        with open(log, "w") as out:
            server = subprocess.Popen(command, env=env, stdout=out, stderr=out,
                                      start_new_session=True)
        try:
            wait_for(issuer + "/.well-known/openid-configuration", server, log)
            bearer = {"Authorization": f"Bearer {token}"}
            before = {page: [timed(issuer + page)[1] for _ in range(50)] for page in PAGES}
            userinfo_before = [timed(issuer + "/userinfo", headers=bearer)[1]
                               for _ in range(50)]

            proxy.freeze()
            frozen_at, answers, done = time.monotonic(), [], threading.Event()

            def hammer() -> None:
                while not done.is_set():
                    answers.append(timed(issuer + "/userinfo", headers=bearer))
            clients = [threading.Thread(target=hammer) for _ in range(options.clients)]
            [client.start() for client in clients]
            during: dict[str, list[float]] = {page: [] for page in PAGES}
            failed: dict[str, int] = {page: 0 for page in PAGES}
            while time.monotonic() - frozen_at < options.seconds:
                for page in PAGES:
                    status, seconds = timed(issuer + page)
                    during[page].append(seconds)
                    failed[page] += status != 200
                time.sleep(0.1)
            done.set()
            proxy.thaw()
            thawed = time.monotonic()
            [client.join(120) for client in clients]
            while timed(issuer + "/userinfo", headers=bearer)[0] != 200:
                time.sleep(0.1)
            back = time.monotonic() - thawed
        finally:
            stop(server)
            workers = children(server.pid)
        errors = log.read_text(errors="replace")
        print(f"hung database: {options.seconds:.0f} s frozen, {options.clients} userinfo "
              f"clients, granian {options.workers} x {options.threads}, "
              f"IDP_DB_TIMEOUT_SECONDS={options.timeout}, "
              f"IDP_DB_CONCURRENT_REQUESTS={options.turns} {workers or ''}")
        for page in PAGES:
            print(f"  {page:<36} before: {summary(before[page])}")
            print(f"  {'':<36} frozen: {summary(during[page])}  not 200: {failed[page]}")
        statuses: dict[int, int] = {}
        for status, _ in answers:
            statuses[status] = statuses.get(status, 0) + 1
        print(f"  /userinfo before: {summary(userinfo_before)}")
        print(f"  /userinfo frozen: {statuses} answers by status; the 503s: "
              f"{summary([s for status, s in answers if status == 503])}")
        print(f"  /userinfo answered 200 again {back:.2f} s after the database came back")
        print(f"  tracebacks in the server's log: {errors.count('Traceback')}")
    finally:
        proxy.stop()
        drop_database(database)


if __name__ == "__main__":
    main()
