"""Does a refused login take the same time for a known and an unknown address?

    .venv/bin/python bench/login_timing.py [--requests 200]

In one process (Flask's test client, SQLite in a temporary folder, the default Argon2id
parameters), sends interleaved logins: known address with a wrong password, unknown
address, disabled account. Reports the median and the 10th/90th percentile per kind and
the difference of medians against the known address (the baseline, same run).
"""

from __future__ import annotations

import argparse
import statistics
import time

from inprocess import csrf_token, fresh_app
from sqlalchemy import update

from idp import db
from idp.cli import runner as cli_runner
from idp.models import Account

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
    client = app.test_client()
    csrf = csrf_token(client, "/login")
    kinds = {"known address, wrong password": ("known@vhs-t.de", "falsch-falsch-falsch"),
             "unknown address": ("unknown@vhs-t.de", "falsch-falsch-falsch"),
             "disabled account, right password": ("disabled@vhs-t.de", PASSWORD)}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(args.requests):
        for kind, (email, password) in kinds.items():
            start = time.perf_counter()
            response = client.post("/login", data={"csrf_token": csrf, "tenant": "t",
                                                   "email": email, "password": password})
            times[kind].append(time.perf_counter() - start)
            assert response.status_code == 401
    baseline = statistics.median(times["known address, wrong password"])
    for kind, values in times.items():
        deciles = statistics.quantiles(values, n=10)
        median = statistics.median(values)
        print(f"{kind:34s} median {median * 1000:7.2f} ms  p10 {deciles[0] * 1000:7.2f}  "
              f"p90 {deciles[-1] * 1000:7.2f}  difference {(median - baseline) * 1000:+6.2f} ms")


if __name__ == "__main__":
    main()
