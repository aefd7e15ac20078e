"""How much longer does an itm:PORTAL login take than a local one? (loopback, in-process)

    .venv/bin/python bench/portal_latency.py [--logins 60] [--runs 3]

Two VHS in one provider (Flask's test client, SQLite): one with a local account, one whose
portal simulator (real HTTP on loopback) knows the person. Both hash with the same
Argon2id parameters (the provider's defaults, also used for the simulator's users file),
so the difference is what the portal adds: the lookup and verify round trips and the
connector's checks. Reports the median per kind (median of the runs) and the difference.
"""

from __future__ import annotations

import argparse
import statistics
import time

from argon2 import PasswordHasher, Type
from inprocess import csrf_token, fresh_app

from idp.cli import runner as cli_runner
from idp.dev.portal_sim import PortalSimulator

PASSWORD = "Latenz-Passwort-2026"
CREDENTIAL = "bench-portal-credential-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=1, type=Type.ID)
    portal = PortalSimulator([{"email": "p@vhs-b.de", "id": "1", "name": "P",
                               "password_hash": hasher.hash(PASSWORD)}], CREDENTIAL).start()
    app = fresh_app()
    cli = cli_runner(app)
    cli.invoke(args=["vhs", "add", "a", "--name", "vhs A", "--onboarded"])
    cli.invoke(args=["vhs", "add", "b", "--name", "vhs B", "--onboarded"])
    cli.invoke(args=["accounts", "add", "--vhs", "a", "--email", "l@vhs-a.de",
                     "--password-stdin"], input=PASSWORD + "\n")
    cli.invoke(args=["vhs", "set-portal", "b", "--base-url", portal.url, "--credential-stdin"],
               input=CREDENTIAL + "\n")
    kinds = {"local": ("a", "l@vhs-a.de"), "itm:PORTAL": ("b", "p@vhs-b.de")}
    medians: dict[str, list[float]] = {kind: [] for kind in kinds}
    try:
        for _ in range(args.runs):
            times: dict[str, list[float]] = {kind: [] for kind in kinds}
            for _ in range(args.logins):
                for kind, (tenant, email) in kinds.items():
                    client = app.test_client()
                    csrf = csrf_token(client, "/login")
                    start = time.perf_counter()
                    response = client.post("/login", data={
                        "csrf_token": csrf, "tenant": tenant, "email": email,
                        "password": PASSWORD})
                    times[kind].append(time.perf_counter() - start)
                    assert response.status_code == 303, response.status_code
            for kind, values in times.items():
                medians[kind].append(statistics.median(values))
    finally:
        portal.stop()
    result = {kind: statistics.median(values) for kind, values in medians.items()}
    for kind, value in result.items():
        runs = ", ".join(f"{v * 1000:.1f}" for v in medians[kind])
        print(f"{kind:12s} median {value * 1000:7.1f} ms   (runs: {runs})")
    print(f"added by the portal: {(result['itm:PORTAL'] - result['local']) * 1000:+.1f} ms")


if __name__ == "__main__":
    main()
