"""Do "Neuer Zugang" and "Passwort vergessen" answer known and unknown addresses in the
same time?

    .venv/bin/python bench/access_timing.py [--requests 200] [--answer-seconds 0.4]

In one process (Flask's test client, SQLite in a temporary folder, the directory adapter
with one eligible person and one active account), interleaves requests for a known and an
unknown address and reports medians, p10/p90 and the difference of medians. The mail
throttle is off (IDP_MAIL_INTERVAL_SECONDS=0), so every known request really writes its
outbox row and link: the worst case for the difference. ``--answer-seconds 0`` turns the
fixed answer time (IDP_SELFSERVICE_ANSWER_SECONDS) off to show the raw difference.
"""

from __future__ import annotations

import argparse
import statistics
import time

from inprocess import csrf_token, fresh_app

from idp import db, directory
from idp.cli import runner as cli_runner
from idp.models import Vhs

PASSWORD = "Timing-Passwort-2026"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--answer-seconds", type=float, default=0.4)
    args = parser.parse_args()
    app = fresh_app(MAIL_INTERVAL_SECONDS=0, SELFSERVICE_ANSWER_SECONDS=args.answer_seconds)
    runner = cli_runner(app)
    runner.invoke(args=["vhs", "add", "t", "--name", "vhs T", "--onboarded", "--adapter",
                        "directory"])
    runner.invoke(args=["accounts", "add", "--vhs", "t", "--email", "active@vhs-t.de",
                        "--password-stdin"], input=PASSWORD + "\n")
    with app.app_context():
        vhs = db.session().query(Vhs).one()
        directory.replace_directory(vhs, [
            {"email": a, "id": a, "name": None, "active": True, "released": True}
            for a in ("new@vhs-t.de", "active@vhs-t.de")])
    client = app.test_client()
    for path, known in (("/neuer-zugang", "new@vhs-t.de"),
                        ("/passwort-vergessen", "active@vhs-t.de")):
        csrf = csrf_token(client, path)
        times: dict[str, list[float]] = {"known": [], "unknown": []}
        for _ in range(args.requests):
            for kind, email in (("known", known), ("unknown", "nobody@vhs-t.de")):
                start = time.perf_counter()
                response = client.post(path, data={"csrf_token": csrf, "tenant": "t",
                                                   "email": email})
                times[kind].append(time.perf_counter() - start)
                assert response.status_code == 200
        medians = {kind: statistics.median(values) for kind, values in times.items()}
        for kind, values in times.items():
            deciles = statistics.quantiles(values, n=10)
            print(f"{path:20s} {kind:8s} median {medians[kind] * 1000:6.2f} ms  "
                  f"p10 {deciles[0] * 1000:6.2f}  p90 {deciles[-1] * 1000:6.2f}")
        difference = (medians["known"] - medians["unknown"]) * 1000
        print(f"{path:20s} difference of medians {difference:+.2f} ms")


if __name__ == "__main__":
    main()
