"""Does a refused login take the same time for a known and an unknown address?

    .venv/bin/python bench/login_timing.py [--requests 200]

In one process (Flask's test client, SQLite in a temporary folder, the default Argon2id
parameters), sends interleaved logins: known address with a wrong password, unknown
address, disabled account. Reports the median and the 10th/90th percentile per kind and
the difference of medians against the known address (the baseline, same run).

Then the same while the VHS's itm:PORTAL cannot be reached (the simulator answering 500):
a local account that may fall back, with a wrong password; an address nobody has; the
portal's own person; a local account never looked up. Every one is a 503 with the same
words; the baseline is the first.
"""

from __future__ import annotations

import argparse
import statistics
import time

from inprocess import csrf_token, fresh_app
from sqlalchemy import update

from idp import db
from idp.cli import runner as cli_runner
from idp.dev.portal_sim import PortalSimulator
from idp.models import Account, now

PASSWORD = "Timing-Passwort-2026"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    app = fresh_app()
    runner = cli_runner(app)
    runner.invoke(args=["vhs", "add", "t", "--name", "vhs T", "--onboarded"])
    for address in ("known@vhs-t.de", "disabled@vhs-t.de"):
        runner.invoke(args=["accounts", "add", "--vhs", "t", "--email", address,
                            "--password-stdin"], input=PASSWORD + "\n")
    with app.app_context():
        db.session().execute(update(Account).where(Account.address == "disabled@vhs-t.de")
                             .values(status="disabled"))
        db.session().commit()
    compare(app, "t", {
        "known address, wrong password": ("known@vhs-t.de", "falsch-falsch-falsch"),
        "unknown address": ("unknown@vhs-t.de", "falsch-falsch-falsch"),
        "disabled account, right password": ("disabled@vhs-t.de", PASSWORD)}, 401,
        args.requests)
    portal_down(app, runner, args.requests)


def portal_down(app, runner, requests: int) -> None:
    """The same, for a VHS whose itm:PORTAL answers 500."""
    simulator = PortalSimulator([{"email": "portal@vhs-p.de", "id": "p-1", "name": "P",
                                  "password_hash": "x"}], "portal-credential-0123456789",
                                mode="error").start()
    runner.invoke(args=["vhs", "add", "p", "--name", "vhs P", "--onboarded"])
    runner.invoke(args=["vhs", "set-portal", "p", "--base-url", simulator.url,
                        "--credential-stdin"], input="portal-credential-0123456789\n")
    for address in ("local@vhs-p.de", "never@vhs-p.de"):
        runner.invoke(args=["accounts", "add", "--vhs", "p", "--email", address,
                            "--password-stdin"], input=PASSWORD + "\n")
    with app.app_context():  # the portal said "not mine" for local@ a minute ago
        db.session().execute(update(Account).where(Account.address == "local@vhs-p.de")
                             .values(portal_unknown_at=now() - 60))
        db.session().commit()
    print("\nwhile the VHS's itm:PORTAL cannot be reached:")
    try:
        compare(app, "p", {
            "local account (grace), wrong password": ("local@vhs-p.de", "falsch-falsch-1"),
            "unknown address": ("unknown@vhs-p.de", "falsch-falsch-1"),
            "the portal's person": ("portal@vhs-p.de", "falsch-falsch-1"),
            "local account never looked up": ("never@vhs-p.de", PASSWORD)}, 503, requests)
    finally:
        simulator.stop()


def compare(app, vhs: str, kinds: dict[str, tuple[str, str]], status: int,
            requests: int) -> None:
    """Interleaved logins of each kind; their times against the first kind's."""
    client = app.test_client()
    csrf = csrf_token(client, "/login")
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(requests):
        for kind, (email, password) in kinds.items():
            start = time.perf_counter()
            response = client.post("/login", data={"csrf_token": csrf, "tenant": vhs,
                                                   "email": email, "password": password})
            times[kind].append(time.perf_counter() - start)
            assert response.status_code == status, (kind, response.status_code)
    baseline = statistics.median(next(iter(times.values())))
    for kind, values in times.items():
        deciles = statistics.quantiles(values, n=10)
        median = statistics.median(values)
        print(f"{kind:40s} median {median * 1000:7.2f} ms  p10 {deciles[0] * 1000:7.2f}  "
              f"p90 {deciles[-1] * 1000:7.2f}  difference {(median - baseline) * 1000:+6.2f} ms")


if __name__ == "__main__":
    main()
