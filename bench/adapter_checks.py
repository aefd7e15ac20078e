"""How long one eligibility check takes per adapter (in-process, median of several runs).

    .venv/bin/python bench/adapter_checks.py [--checks 300] [--runs 5] [--users 2000]
                                       [--database-url postgresql+psycopg://postgres@127.0.0.1/test]

Builds each registered adapter over a program database of ``--users`` users (SQLite in a
temporary folder unless --database-url), and times ``check()`` for an eligible address
(exact match), an unknown address (exact miss, then the cleaning scan) and, for the SQL
adapters, an address stored with an invisible character (found by the scan). itm_connect
goes through the local RabbitMQ to the simulator. The baseline is address cleaning
alone, in the same process.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters import registry  # noqa: E402
from adapters.address import clean  # noqa: E402
from adapters.base import Context  # noqa: E402
from idp.dev.itm_connect_sim import Simulator  # noqa: E402

AMQP = os.environ.get("IDP_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def program(url: str, users: int) -> None:
    metadata = MetaData()
    table = Table("benutzer", metadata, Column("id", Integer), Column("vorname", String(80)),
                  Column("name", String(80)), Column("email", String(320)),
                  Column("email2", String(320)), Column("aktiv", String(1)),
                  Column("internet_anzeigen", String(1)), Column("mandant", String(10)))
    engine = create_engine(url)
    with engine.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
        rows = [{"id": i, "vorname": "P", "name": str(i), "email": f"person{i}@vhs-bench.de",
                 "email2": None, "aktiv": "J", "internet_anzeigen": "J", "mandant": "1"}
                for i in range(users)]
        rows[-1]["email"] = "hidden@vhs-bench.de\u00a0"
        connection.execute(table.insert(), rows)
    engine.dispose()


def timed(check, address: str, checks: int, runs: int) -> float:
    medians = []
    for _ in range(runs):
        samples = []
        for _ in range(checks):
            start = time.perf_counter()
            check(address)
            samples.append(time.perf_counter() - start)
        medians.append(statistics.median(samples))
    return statistics.median(medians)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="idp-bench-adapters-")
    url = args.database_url or f"sqlite:///{folder}/program.sqlite3"
    program(url, args.users)
    links = type("AllLinked", (), {"is_linked": lambda self, vhs, address: True})()
    vhs = "bench-" + secrets.token_hex(3)

    def build(name, options):
        return registry.build(name, options, context)

    context = Context(vhs=vhs, build=build, links=links)
    sql = {"url": url}
    adapters = {
        "kufersql": registry.build("kufersql", sql, context),
        "itm_manager": registry.build("itm_manager", {
            **sql, "table": "benutzer", "id_column": "id", "name_columns": ["vorname", "name"],
            "email_columns": ["email", "email2"], "released_column": "internet_anzeigen"},
            context),
        "kma": registry.build("kma", {"program": "kufersql", "program_options": sql}, context),
    }
    users_file = Path(folder) / "users.csv"
    users_file.write_text("email,id\n" + "".join(f"person{i}@vhs-bench.de,{i}\n"
                                                  for i in range(args.users)))
    adapters["directory"] = registry.build("directory", {"file": str(users_file)}, context)
    simulator = Simulator(AMQP, vhs, registry.build("kufersql", sql, context))
    simulator.start()
    adapters["itm_connect"] = registry.build("itm_connect", {"url": AMQP}, context)
    missing = set(registry.available()) - set(adapters)
    assert not missing, f"no benchmark for {missing}"
    eligible = f"person{args.users // 2}@vhs-bench.de"
    baseline = timed(clean, eligible, args.checks, args.runs)
    print(f"{args.users} users, {'PostgreSQL' if 'postgresql' in url else 'SQLite'}; "
          f"median of {args.runs} runs x {args.checks} checks")
    print(f"{'baseline: clean() alone':36s} {baseline * 1e6:9.1f} µs")
    try:
        for name, adapter in adapters.items():
            cases = [("eligible", eligible), ("unknown", "nobody@vhs-bench.de")]
            if name != "directory":
                cases.append(("invisible char", "hidden@vhs-bench.de"))
            for label, address in cases:
                checks = args.checks if label == "eligible" else max(20, args.checks // 10)
                median = timed(adapter.check, address, checks, args.runs)
                print(f"{name + ', ' + label:36s} {median * 1e6:9.1f} µs "
                      f"({median / baseline:8.0f} x baseline)")
    finally:
        simulator.stop()
        for adapter in adapters.values():
            adapter.close()


if __name__ == "__main__":
    main()
