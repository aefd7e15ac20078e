"""How fast the console's people list answers for a VHS with many accounts.

    .venv/bin/python bench/console.py [--db postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench]
                                      [--accounts 5000] [--runs 200]

A fresh provider (on a PostgreSQL database created and dropped here, or SQLite with
``--db sqlite``), one VHS with N accounts (a tenth of them with two live sessions), an
administrator signed in; Flask's test client asks for the list: the first page, a deep
keyset page, a search by part of an address, a search by name, a filter by state. Prints
median, p95 and max in milliseconds per request, each against the same process's
``/healthz`` (the floor of a request here), after a warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import contextmanager

import psycopg
from inprocess import fresh_app

from idp import db, roles
from idp.cli import runner as cli_runner
from idp.models import Account, Role, SsoSession, Status, Vhs

PASSWORD = "Bench-Kennwort-2026-xyz"
ADMIN = "admin@vhs-bench.de"


@contextmanager
def database(url: str):
    """A PostgreSQL database of its own for the run (dropped after), or SQLite."""
    if url == "sqlite":
        yield None
        return
    server, name = url.rsplit("/", 1)
    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        with psycopg.connect(plain + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def populate(app, count: int) -> None:
    runner = cli_runner(app)
    assert runner.invoke(args=["vhs", "add", "bench", "--name", "vhs Bench",
                               "--onboarded"]).exit_code == 0
    assert runner.invoke(args=["accounts", "add", "--vhs", "bench", "--email", ADMIN,
                               "--password-stdin"], input=PASSWORD + "\n").exit_code == 0
    with app.app_context():
        session = db.session()
        vhs = session.query(Vhs).filter_by(slug="bench").one()
        states = (Status.ACTIVE, Status.ACTIVE, Status.PENDING, Status.DISABLED)
        rows = [Account(vhs_id=vhs.id, address=f"person{n:05}@vhs-bench.de",
                        display_name=f"Vorname{n} Nachname{n % 97}", status=states[n % 4],
                        last_login_at=int(time.time()) - n) for n in range(count - 1)]
        session.add_all(rows)
        session.flush()
        now = int(time.time())
        session.add_all(SsoSession(sid=f"s{a.id}-{i}", secret_hash=f"{a.id:032}{i:032}",
                                   account_id=a.id, auth_time=now, amr=["pwd"],
                                   remember=False, user_agent="bench", created_at=now,
                                   last_seen_at=now, expires_at=now + 3600)
                        for a in rows[::10] for i in range(2))
        session.commit()
        db.transaction(roles.grant)("bench", ADMIN, Role.ADMIN, "bench")


def timed(client, path: str, runs: int) -> list[float]:
    for _ in range(10):
        assert client.get(path).status_code == 200, path
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench")
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with database(args.db) as url:
        app = fresh_app(**({"DATABASE_URL": url} if url else {}))
        populate(app, args.accounts)
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        answer = client.post("/login", data={"csrf_token": token, "tenant": "bench",
                                             "email": ADMIN, "password": PASSWORD})
        assert answer.status_code == 303, answer.status_code
        base = "/admin/vhs/bench/people"
        cases = {"/healthz (floor)": "/healthz", "first page": base,
                 "keyset page at 4,000": base + "?after=person04000@vhs-bench.de",
                 "search address part": base + "?q=person031",
                 "search name": base + "?q=Nachname42",
                 "filter state=pending": base + "?state=pending",
                 "search + filter": base + "?q=vorname1&state=active&source=local"}
        kind = "PostgreSQL" if url else "SQLite"
        print(f"{kind}, {args.accounts} accounts, {args.runs} requests each (ms)")
        print(f"{'case':26} {'median':>8} {'p95':>8} {'max':>8}")
        for name, path in cases.items():
            times = sorted(timed(client, path, args.runs))
            print(f"{name:26} {statistics.median(times):8.2f} "
                  f"{times[int(len(times) * .95)]:8.2f} {times[-1]:8.2f}")
        db.engine(app).dispose()


if __name__ == "__main__":
    main()
