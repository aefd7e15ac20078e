"""The regression check: this checkout against a base revision, side by side, in one sitting.

    .venv/bin/python bench/regress.py --base main            # before resolving (about 25 min)
    .venv/bin/python bench/regress.py --base b6bb648 --db sqlite --rounds 3 --duration 5

The base revision is checked out into a git worktree of its own (a temporary folder, removed
afterwards) and served from this checkout's virtual environment with its own packages first
on PYTHONPATH: the same libraries, the same interpreter; only the project's code differs.

Each round starts a fresh server for each side, base and change in turn (the side that goes
first alternates), set up through the command line as bench/compare.py does (1,000
onboarded VHS, one client, one account): one granian worker pinned to CPU 1 with the
production command's threads (2 on SQLite, 4 on PostgreSQL) and malloc settings, the load
generator (bench/load.py) pinned to CPU 0, Argon2id at t=1, 8 MiB. Scenarios: a discovery,
b JWKS, c client_credentials, f userinfo, d refresh, e the whole code flow, g the login page.

Per scenario it prints the median requests per second of each side; the ratio change/base
(the median of the rounds' paired ratios) with their range; the noise, how far the base's
own rounds lay apart (largest over smallest, minus one); the server's CPU milliseconds per
request of each side; and SLOWER where the ratio is below 0.95 by more than the noise. The
exit status is 1 when a scenario is SLOWER. ``--out`` keeps every run as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from compare import run_ours

ROOT = Path(__file__).resolve().parents[1]
NAMES = {"a": "discovery", "b": "JWKS", "c": "client_credentials", "f": "userinfo",
         "d": "refresh", "e": "code flow", "g": "login page"}
ALLOWED = 0.05  # slower than this beyond the noise is flagged


def verdict(base: list[float], change: list[float], allowed: float = ALLOWED) -> dict:
    """Compare the paired rounds of one scenario (requests per second, base and change
    measured in the same round): the median ratio, its range, the base's own noise, and
    whether the change is slower than ``allowed`` beyond that noise."""
    ratios = [new / old for old, new in zip(base, change)]
    noise = max(base) / min(base) - 1 if len(base) > 1 else 0.0
    ratio = statistics.median(ratios)
    return {"ratio": ratio, "low": min(ratios), "high": max(ratios), "noise": noise,
            "slower": ratio < 1 - allowed - noise}


def worktree(revision: str, folder: Path) -> Path:
    """A checkout of ``revision`` in ``folder`` (a git worktree of this repository)."""
    target = folder / "base"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet",
                    str(target), revision], check=True)
    return target


def cpu_ms(found: dict) -> float | None:
    """The server's CPU milliseconds per request (per login for the code flow)."""
    median = found["median"]
    if not median.get("srv_cpu") or not median["rps"]:
        return None
    return 1000 * median["srv_cpu"] / median["rps"]


def report(db: str, runs: dict[str, list[dict]]) -> tuple[list[str], bool]:
    """The table of one database; whether any scenario is SLOWER."""
    lines = [f"\n## {db}: change / base, {len(runs['base'])} rounds",
             "| scenario | base/s | change/s | ratio (range) | noise | CPU ms base | "
             "CPU ms change | |", "|---|---:|---:|---|---:|---:|---:|---|"]
    flagged = False
    for key in runs["base"][0]["scenarios"]:
        base = [run["scenarios"][key]["median"]["rps"] for run in runs["base"]]
        change = [run["scenarios"][key]["median"]["rps"] for run in runs["change"]]
        found = verdict(base, change)
        flagged |= found["slower"]
        cpu = [statistics.median(filter(None, (cpu_ms(run["scenarios"][key]) for run in
                                                runs[side])) or [0]) for side in runs]
        lines.append(
            f"| {key} {NAMES.get(key, key)} | {statistics.median(base):,.1f} | "
            f"{statistics.median(change):,.1f} | {found['ratio']:.3f} ({found['low']:.3f}-"
            f"{found['high']:.3f}) | {100 * found['noise']:.1f} % | {cpu[0]:.2f} | "
            f"{cpu[1]:.2f} | {'SLOWER' if found['slower'] else 'ok'} |")
    return lines, flagged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the revision to compare with")
    parser.add_argument("--db", default="sqlite,pg")
    parser.add_argument("--scenarios", default="a,b,c,f,d,e,g")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--alg", default="RS256")
    parser.add_argument("--vhs", type=int, default=1000)
    parser.add_argument("--out", default="", help="write every run to this JSON file")
    options = parser.parse_args()
    for tool in ("taskset", "wrk", "git"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing (apt-get install util-linux wrk git)")
    # what bench/compare.py's run_ours reads: one run per round, granian, cheapest Argon2id
    options.runs, options.argon, options.server = 1, "min", "granian"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the worktree is removed then too
    work = Path(tempfile.mkdtemp(prefix="idp-regress-"))
    base = worktree(options.base, work)
    sources = {"base": base, "change": None}
    everything, lines, flagged = {}, [], False
    try:
        for db in options.db.split(","):
            options.threads = 4 if db == "pg" else 2
            runs = {"base": [], "change": []}
            for round_ in range(options.rounds):
                for side in (("base", "change") if round_ % 2 == 0 else ("change", "base")):
                    print(f"# {db}, round {round_ + 1} of {options.rounds}: {side}", flush=True)
                    runs[side].append(run_ours(db, options.alg, work, options, sources[side]))
            block, slower = report(db, runs)
            print("\n".join(block), flush=True)
            lines.extend(block)
            flagged |= slower
            everything[db] = runs
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                       check=False)
        shutil.rmtree(work, ignore_errors=True)
    head = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                          capture_output=True, text=True).stdout.strip()
    print(f"\n# summary: {head} against {options.base}" + "\n".join(lines))
    if options.out:
        Path(options.out).write_text(json.dumps(everything, indent=1, default=str))
    sys.exit(1 if flagged else 0)


if __name__ == "__main__":
    main()
