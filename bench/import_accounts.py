"""How fast, and in how much memory, does ``vhskoop-idp accounts import`` take a large file?

    .venv/bin/python bench/import_accounts.py [--lines 100000] [--runs 3]
        [--db sqlite|postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench_import]

Writes a CSV of ``--lines`` people over 20 onboarded VHS (hashes of every accepted format,
one in ten without), then for each of a quarter, a half and the whole file runs the real
command (``vhskoop-idp accounts import FILE`` in a process of its own, on a fresh
database) ``--runs`` times and reports the median wall time, lines per second and the
process's peak RSS: memory is flat when the peak does not grow with the file. A second
import of the whole file (every line unchanged) is timed too.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from passlib import hash as formats

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).with_name("vhskoop-idp"))
VHS = [f"bench{n:02d}" for n in range(20)]
HASHES = ["", formats.bcrypt.using(rounds=10, ident="2y").hash("x"),
          formats.argon2.hash("x"), formats.django_pbkdf2_sha256.hash("x"),
          formats.sha512_crypt.hash("x"), formats.sha256_crypt.hash("x")]


def write_file(path: Path, lines: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["vhs", "email", "name", "legacy_id", "password_hash", "state",
                         "created_at", "last_login_at"])
        for n in range(lines):
            writer.writerow([VHS[n % len(VHS)], f"person{n}@vhs-bench.de", f"Person {n}",
                             f"koop-{n}", HASHES[n % len(HASHES)] if n % 10 else "",
                             "disabled" if n % 50 == 0 else "active",
                             "2019-01-01T00:00:00Z", "1700000000"])


def command(env: dict, *args: str) -> None:
    """Run ``vhskoop-idp ARGS`` (the setup), stopping at the first failure."""
    result = subprocess.run([CLI, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def measure(peak_command: list[str], env: dict) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one command, read by a child of its own so that
    earlier children's peaks do not hide it."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "r = subprocess.run(sys.argv[1:], capture_output=True); "
             "assert r.returncode == 0, r.stdout + r.stderr; "
             "print(time.perf_counter() - t, "
             "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, *peak_command], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1])


def fresh(db: str, folder: Path) -> dict:
    env = {**os.environ, "IDP_ENV": "production", "IDP_SECRET_KEY": "b" * 40,
           "IDP_INSTANCE_PATH": str(folder), "IDP_KEYS_DIR": str(folder / "keys")}
    if db == "sqlite":
        env["IDP_DATABASE_URL"] = f"sqlite:///{folder}/idp.sqlite3"
    else:
        server, name = db.rsplit("/", 1)
        with psycopg.connect(server.replace("postgresql+psycopg://", "postgresql://")
                             + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        env["IDP_DATABASE_URL"] = db
    command(env, "db", "upgrade")
    for slug in VHS:
        command(env, "vhs", "add", slug, "--name", f"vhs {slug}", "--onboarded")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", default="sqlite")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="idp-import-"))
    sizes = [args.lines // 4, args.lines // 2, args.lines]
    print(f"{'SQLite' if args.db == 'sqlite' else 'PostgreSQL'}, {args.runs} runs each; "
          "median wall time (whole process: start-up, import, commit) and peak RSS")
    for size in sizes:
        path = folder / f"{size}.csv"
        write_file(path, size)
        walls, peaks, again = [], [], []
        for run in range(args.runs):
            env = fresh(args.db, folder / f"run{size}-{run}")
            wall, peak = measure([CLI, "accounts", "import", str(path)], env)
            walls.append(wall)
            peaks.append(peak)
            if size == args.lines:
                again.append(measure([CLI, "accounts", "import", str(path)], env)[0])
        wall = statistics.median(walls)
        print(f"{size:>7} lines: {wall:6.1f} s ({size / wall:7.0f} lines/s), "
              f"peak RSS {statistics.median(peaks) / 1024:6.1f} MiB "
              f"(runs: {', '.join(f'{w:.1f}' for w in walls)} s)")
        if again:
            print(f"{size:>7} lines again (all unchanged): {statistics.median(again):6.1f} s")


if __name__ == "__main__":
    main()
