"""What one lifecycle pass costs the provider: CPU, program calls a minute, memory.

    .venv/bin/python bench/lifecycle.py [--accounts 100000] [--vhs 1000] [--passes 3]
        [--db postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench_lifecycle | sqlite]

Makes a fresh provider database (PostgreSQL by default) with ``--vhs`` onboarded VHS and
``--accounts`` active accounts spread over them, and for each VHS a KuferSQL-shaped
program database of its own (SQLite) that lists its people, one in a hundred no longer
active, read by the ``kufersql`` adapter. Then, in this process, it runs
``--passes`` whole passes (``idp.lifecycle.run``, as ``vhskoop-idp lifecycle run``
does; every answer is made due again between passes) and reports per pass: the
provider's CPU seconds (the process's CPU time, the program's SQLite work included, as
the figure to compare), the wall time, the addresses put to the programs per minute, and
the process's resident memory after the pass (flat over the passes: nothing grows per
pass).
The brake is set to 100 % so that the 1 % of leavers are let through as in real life.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from idp import create_app, db, eligibility, lifecycle  # noqa: E402
from idp.models import Account, Status, Vhs  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench_lifecycle"


def fresh_database(url: str, folder: Path) -> str:
    if url == "sqlite":
        return f"sqlite:///{folder}/idp.sqlite3"
    server, name = url.rsplit("/", 1)
    with psycopg.connect(server.replace("postgresql+psycopg://", "postgresql://")
                         + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return url


def program_databases(folder: Path, vhs_count: int, per_vhs: int) -> list[str]:
    """A KuferSQL-shaped user table per VHS (its own database, as each VHS has its own
    program); every hundredth user not active. Their SQLAlchemy URLs."""
    table = Table("benutzer", MetaData(), *(Column(name, kind) for name, kind in (
        ("id", Integer), ("vorname", String), ("name", String), ("email", String),
        ("email2", String), ("aktiv", String), ("internet_anzeigen", String),
        ("mandant", String))))
    urls, user = [], 0
    for vhs in range(vhs_count):
        url = f"sqlite:///{folder}/program{vhs}.sqlite3"
        engine = create_engine(url)
        with engine.begin() as connection:
            table.create(connection)
            connection.execute(text("CREATE INDEX benutzer_email ON benutzer (lower(email))"))
            rows = []
            for person in range(per_vhs):
                user += 1
                rows.append({"id": user, "vorname": "P", "name": str(user),
                             "email": _address(vhs, person), "email2": None,
                             "aktiv": "N" if user % 100 == 0 else "J",
                             "internet_anzeigen": "J", "mandant": "1"})
            connection.execute(table.insert(), rows)
        engine.dispose()
        urls.append(url)
    return urls


def _address(vhs: int, person: int) -> str:
    return f"p{person}@vhs{vhs}.example"


def seed(app, vhs_count: int, per_vhs: int, programs: list[str]) -> None:
    with app.app_context():
        session = db.session()
        session.execute(Vhs.__table__.insert(), [
            {"slug": f"vhs{n}", "name": f"vhs {n}", "onboarded": True, "created_at": 0}
            for n in range(vhs_count)])
        ids = dict(session.execute(text("SELECT slug, id FROM vhs")).all())
        for n in range(vhs_count):
            vhs = session.get(Vhs, ids[f"vhs{n}"])
            eligibility.configure(vhs, "kufersql", {"url": programs[n], "mandant": "1",
                                                    "scan_on_miss": False})
        for start in range(0, vhs_count, 50):
            session.execute(Account.__table__.insert(), [
                {"vhs_id": ids[f"vhs{n}"], "address": _address(n, person),
                 "status": Status.ACTIVE, "sub": f"s{n}-{person}", "source": "local",
                 "email_verified": True, "created_at": int(time.time()), "no_answers": 0}
                for n in range(start, min(start + 50, vhs_count)) for person in range(per_vhs)])
        session.commit()


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    """The process's resident memory now (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--vhs", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--db", default=POSTGRES)
    args = parser.parse_args()
    per_vhs = args.accounts // args.vhs
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        url = fresh_database(args.db, folder)
        os.environ.setdefault("IDP_LOG_FORMAT", "text")
        app = create_app({"SECRET_KEY": "b" * 40, "DATABASE_URL": url,
                          "KEYS_DIR": str(folder / "keys"), "LEAVER_BRAKE_PERCENT": 100,
                          "LIFECYCLE_CHECKS_PER_MINUTE": 10 ** 9})
        db.upgrade(app)
        seed(app, args.vhs, per_vhs, program_databases(folder, args.vhs, per_vhs))
        print(f"{args.vhs} VHS, {args.vhs * per_vhs} accounts, provider database "
              f"{'SQLite' if args.db == 'sqlite' else 'PostgreSQL'}, programs: kufersql on "
              f"SQLite")
        gc.collect()
        print(f"before the passes: RSS {rss_mib():.0f} MiB (peak so far {peak_mib():.0f}, "
              f"the seeding)")
        print("| pass | CPU s | wall s | addresses a minute | ended | RSS after MiB |")
        print("|---:|---:|---:|---:|---:|---:|")
        for number in range(1, args.passes + 1):
            with app.app_context():
                db.session().execute(text("UPDATE eligibility_checks SET checked_at = 0"))
                db.session().commit()
                cpu, wall = time.process_time(), time.perf_counter()
                done = lifecycle.run(int(time.time()))
                db.session().commit()
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            checked = sum(each.checked for each in done)
            ended = sum(each.ended for each in done)
            gc.collect()
            print(f"| {number} | {cpu:.1f} | {wall:.1f} | {checked / wall * 60:,.0f} | "
                  f"{ended} | {rss_mib():.0f} |")
        db.engine(app).dispose()


if __name__ == "__main__":
    main()
