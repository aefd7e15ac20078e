"""Instructions per request, in-process, under callgrind: a figure a noisy machine cannot blur.

    .venv/bin/python bench/instructions.py                       # this checkout
    .venv/bin/python bench/instructions.py --base main           # and main, side by side
    .venv/bin/python bench/instructions.py --scenarios cc,userinfo --counts 20,120

Each scenario runs in a fresh process under ``valgrind --tool=callgrind`` twice, with a
few and with many requests after the same warm-up; the difference divided by the
difference in requests is what one request costs, in millions of instructions: Python's
own work per request, Flask's WSGI app called directly (no HTTP server, no client), on
SQLite. It is repeatable to about 0.1 % because everything random that costs is fixed:
the keys are made once beforehand (an RSA key made at start varies by billions of
instructions) and ``PYTHONHASHSEED`` is 0. Argon2id (t=1, 8 MiB) is about 44 million of a
login's instructions.

Scenarios: cc (client_credentials), refresh (rotating), userinfo, flow (the whole code
flow: /authorize, the login page, the login, /authorize again, /token), login-page.

``--base REV`` checks the revision out into a git worktree and counts it the same way,
with its code first on PYTHONPATH (as bench/regress.py does). The counts of both sides
come from this checkout's harness, so only the provider's code differs. A run takes
about a minute per scenario and side (valgrind runs code about 50 times slower).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("cc", "refresh", "userinfo", "flow", "login-page")
WARM_UP = 10


def inner(scenario: str, requests: int, keys: str) -> None:
    """Set a provider up, warm it, then answer ``requests`` requests of ``scenario``."""
    import hotpaths
    import inprocess
    from werkzeug.test import EnvironBuilder

    made = inprocess.fresh_app
    hotpaths.fresh_app = lambda **settings: made(KEYS_DIR=keys, **settings)
    app = hotpaths.setup(1)
    state = {"refresh": hotpaths.login(app)["refresh_token"]}
    access = hotpaths.login(app)["access_token"]

    def call(**request) -> tuple[str, bytes]:
        answered = {}

        def start_response(status, _headers, _exc_info=None):
            answered["status"] = status

        body = b"".join(app(EnvironBuilder(**request).get_environ(), start_response))
        assert answered["status"].startswith("200"), (answered["status"], body[:300])
        return answered["status"], body

    def refresh() -> None:
        _, body = call(path="/token", method="POST", headers=hotpaths.BASIC, data={
            "grant_type": "refresh_token", "refresh_token": state["refresh"]})
        state["refresh"] = json.loads(body)["refresh_token"]

    action = {
        "cc": lambda: call(path="/token", method="POST", headers=hotpaths.BASIC,
                           data={"grant_type": "client_credentials", "scope": "openid"}),
        "refresh": refresh,
        "userinfo": lambda: call(path="/userinfo",
                                 headers={"Authorization": f"Bearer {access}"}),
        "flow": lambda: hotpaths.login(app),
        "login-page": lambda: call(path="/login"),
    }[scenario]
    for _ in range(WARM_UP):
        action()
    for _ in range(requests):
        action()


def _environment(source: Path | None) -> dict:
    """The provider's code from ``source`` (else this checkout) first on PYTHONPATH, whatever
    the virtual environment installed; hash seeds fixed."""
    return {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(source or ROOT)}


def count(scenario: str, requests: int, keys: str, source: Path | None) -> int:
    """Instructions of one process that answers ``requests`` requests of ``scenario``."""
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, "--inner", scenario, str(requests), keys],
        env=_environment(source), capture_output=True, text=True, cwd=source or ROOT)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        sys.exit(f"{scenario} ({source or 'this checkout'}) failed:\n{run.stderr[-3000:]}")
    return int(found.group(1))


def per_request(scenario: str, counts: tuple[int, int], keys: str,
                source: Path | None) -> float:
    """Millions of instructions one request of ``scenario`` costs. A run without valgrind
    goes first: it compiles every module the scenario imports (a fresh worktree has no
    bytecode yet, and compiling in the first counted run only would lower the figure)."""
    subprocess.run([sys.executable, __file__, "--inner", scenario, "1", keys],
                   env=_environment(source), cwd=source or ROOT, check=True,
                   capture_output=True)
    few, many = (count(scenario, n, keys, source) for n in counts)
    return (many - few) / (counts[1] - counts[0]) / 1e6


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--inner":
        sys.path.insert(0, str(ROOT / "bench"))
        inner(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="", help="a revision to count beside this checkout")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--counts", default="",
                        help="the two numbers of requests, e.g. 10,60 (the default; 3,13 for "
                             "the flow): their difference is divided by")
    options = parser.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is missing (apt-get install valgrind)")
    given = tuple(int(n) for n in options.counts.split(",")) if options.counts else None
    scenarios = options.scenarios.split(",")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the worktree is removed then too
    work = Path(tempfile.mkdtemp(prefix="idp-instructions-"))
    keys = str(work / "keys")
    base = None
    try:
        # the keys, made once outside valgrind, then copied into every provider
        subprocess.run([sys.executable, __file__, "--inner", "cc", "0", keys], check=True,
                       cwd=ROOT, env=_environment(None))
        if options.base:
            base = work / "base"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet",
                            str(base), options.base], check=True)
        print("| scenario | " + (f"{options.base} | " if base else "") + "this checkout |"
              + (" change |" if base else ""))
        print("|---|" + ("---:|" * (3 if base else 1)))
        for scenario in scenarios:
            counts = given or ((3, 13) if scenario == "flow" else (10, 60))
            mine = per_request(scenario, counts, keys, None)
            if base is None:
                print(f"| {scenario} | {mine:.3f} |", flush=True)
                continue
            theirs = per_request(scenario, counts, keys, base)
            print(f"| {scenario} | {theirs:.3f} | {mine:.3f} | "
                  f"{(mine / theirs - 1) * 100:+.1f} % |", flush=True)
        print("(millions of instructions per request, SQLite, in-process)")
    finally:
        if base is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
