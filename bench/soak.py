"""The soak: does a worker's memory stay flat under hours of mixed load?

    .venv/bin/python bench/soak.py                       # 30 minutes, PostgreSQL + Redis
    .venv/bin/python bench/soak.py --minutes 10 --tracemalloc   # where memory goes

This provider is set up through its command line (as bench/compare.py does) and served
the way the documented production command serves it: granian, 2 workers x 4 threads, the
two MALLOC_* variables, PostgreSQL and Redis. The load is the benchmark's mix
(bench/load.py), one scenario after another in a loop (discovery, JWKS,
client_credentials, rotating refresh, the whole code flow with login, userinfo, the login
page), each for ``--slice`` seconds. Every ``--sample`` seconds each worker's RSS is read
from /proc. The report gives, per worker, the RSS after the warm-up (``--warm`` minutes)
and at the end, the growth in between, and the verdict against ``--limit`` MB.

With ``--tracemalloc`` the workers run under tracemalloc (``bench/traced_app.py`` wraps
``idp.wsgi:app``; 15 frames a trace, which costs speed: the RSS figures of such a run are
not the product's) and write a snapshot every ``--sample`` seconds; the report then diffs
each worker's snapshot after the warm-up with its last one and prints the lines whose
allocations grew most, by traceback. Results as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

from compare import (
    ARGON,
    BIN,
    CLIENT_ID,
    CLIENT_SECRET,
    HERE,
    PASSWORD,
    REDIRECT,
    USER,
    children,
    drop_database,
    environment,
    free_port,
    fresh_database,
    setup_ours,
    stop,
    wait_for,
)

SCENARIOS = "a,b,c,d,e,f,g"


def rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def load_slice(issuer: str, scenario: str, seconds: int, out: Path) -> dict:
    """One scenario of bench/load.py for ``seconds``; its report (errors included)."""
    command = [sys.executable, str(HERE / "load.py"), "--issuer", issuer,
               "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
               "--redirect-uri", REDIRECT, "--driver", "ours", "--username", USER,
               "--password", PASSWORD, "--username-field", "email", "--cc-scope", "openid",
               "--scenarios", scenario, "--runs", "1", "--duration", str(seconds),
               "--warmup", "0", "--conc", "16", "--flow-conc", "8", "--procs", "2",
               "--json", str(out)]
    subprocess.run(command, check=True, env={**os.environ, "BENCH_TENANT": "bench"},
                   stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def sampler(workers: list[int], every: float, stop_at: threading.Event,
            samples: list[tuple[float, int, float]], started: float) -> None:
    while not stop_at.wait(every):
        for pid in workers:
            value = rss_mib(pid)
            if value is not None:
                samples.append((time.monotonic() - started, pid, value))


def growth(samples, workers, warm_seconds) -> dict[int, dict]:
    """Per worker: RSS after the warm-up (median of the first three samples after it), at
    the end (median of the last three), the growth, and the largest value."""
    report = {}
    for pid in workers:
        mine = [(t, v) for t, p, v in samples if p == pid]
        after = [v for t, v in mine if t >= warm_seconds]
        if len(after) < 6:
            continue
        first, last = sorted(after[:3])[1], sorted(after[-3:])[1]
        report[pid] = {"after_warmup_mib": round(first, 1), "end_mib": round(last, 1),
                       "growth_mib": round(last - first, 1), "max_mib": round(max(after), 1)}
    return report


def snapshot_diff(folder: Path, pid: int, warm_seconds: float, top: int = 15) -> list[str]:
    """The allocations of worker ``pid`` that grew most between the first snapshot after
    the warm-up and the last, by traceback."""
    files = sorted(folder.glob(f"snapshot-{pid}-*.pickle"),
                   key=lambda path: float(path.stem.rsplit("-", 1)[1]))
    if len(files) < 2:
        return []
    started = float(files[0].stem.rsplit("-", 1)[1])
    warm = [path for path in files if float(path.stem.rsplit("-", 1)[1]) - started
            >= warm_seconds] or files
    with open(warm[0], "rb") as first, open(files[-1], "rb") as last:
        old, new = pickle.load(first), pickle.load(last)
    lines = []
    for stat in new.compare_to(old, "traceback")[:top]:
        lines.append(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks")
        lines.extend(f"      {frame}" for frame in stat.traceback.format()[-12:])
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--warm", type=float, default=5, help="minutes before the growth "
                                                              "is counted")
    parser.add_argument("--slice", type=int, default=20, help="seconds per scenario")
    parser.add_argument("--sample", type=float, default=15)
    parser.add_argument("--limit", type=float, default=5, help="MB a worker may grow")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--db", choices=["pg", "sqlite"], default="pg")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--argon", choices=sorted(ARGON), default="min")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--out", default="")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="soak-"))
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = environment(issuer, work, options.argon)
    env.update(IDP_REDIS_URL=options.redis, PROMETHEUS_MULTIPROC_DIR=str(work / "metrics"))
    (work / "metrics").mkdir()
    database = f"soak_{os.getpid()}" if options.db == "pg" else None
    env["IDP_DATABASE_URL"] = fresh_database(database, work)
    target, serving = "idp.wsgi:app", dict(env)
    if options.tracemalloc:  # the server only: the set-up commands would crawl under it
        serving.update(PYTHONTRACEMALLOC="15", SOAK_SNAPSHOTS=str(work),
                       SOAK_EVERY=str(options.sample), PYTHONPATH=str(HERE))
        target = "traced_app:app"
    log = work / "server.log"
    try:
        setup_ours(env, "RS256", 1)
        command = [str(BIN / "granian"), "--interface", "wsgi", "--workers",
                   str(options.workers), "--blocking-threads", str(options.threads),
                   "--host", "127.0.0.1", "--port", str(port), "--no-access-log", target]
        with open(log, "w") as out:
            server = subprocess.Popen(command, env=serving, stdout=out, stderr=out,
                                      start_new_session=True)
        try:
            for _ in range(10 if options.tracemalloc else 1):  # traced, it starts slowly
                try:
                    wait_for(issuer + "/.well-known/openid-configuration", server, log)
                    break
                except SystemExit:
                    if server.poll() is not None:
                        raise
            time.sleep(2)
            workers = children(server.pid)
            started, samples, done = time.monotonic(), [], threading.Event()
            threading.Thread(target=sampler, args=(workers, options.sample, done, samples,
                                                   started), daemon=True).start()
            slices, errors, requests = 0, {}, 0
            while time.monotonic() - started < options.minutes * 60:
                for scenario in SCENARIOS.split(","):
                    report = load_slice(issuer, scenario, options.slice,
                                        work / f"slice-{scenario}.json")
                    for name, figures in report["scenarios"].items():
                        errors[name] = errors.get(name, 0) + int(figures["median"]["errors"])
                        requests += int(figures["median"]["ok"]) + int(
                            figures["median"]["errors"])
                    slices += 1
                    if time.monotonic() - started >= options.minutes * 60:
                        break
            done.set()
        finally:
            stop(server)
        warm = options.warm * 60
        result = {"minutes": options.minutes, "workers": growth(samples, workers, warm),
                  "slices": slices, "errors": errors, "requests": requests,
                  "samples": samples, "db": options.db, "limit_mb": options.limit}
        print(f"soak: {options.minutes} min, {options.workers} workers x {options.threads} "
              f"threads, {options.db}, {slices} slices, {requests} requests, "
              f"{sum(errors.values())} errors (by scenario: {errors})")
        for pid, figures in result["workers"].items():
            verdict = "flat" if figures["growth_mib"] <= options.limit else "GROWS"
            print(f"  worker {pid}: {figures['after_warmup_mib']} MiB after {options.warm} "
                  f"min -> {figures['end_mib']} MiB at the end ({figures['growth_mib']:+} "
                  f"MiB, max {figures['max_mib']}): {verdict}")
        if options.tracemalloc:
            for pid in workers:
                lines = snapshot_diff(work, pid, warm)
                result.setdefault("tracemalloc", {})[pid] = lines
                print(f"\n  worker {pid}, allocations grown after the warm-up:")
                print("\n".join(lines))
        if options.out:
            Path(options.out).write_text(json.dumps(result, indent=1))
    finally:
        drop_database(database)


if __name__ == "__main__":
    tracemalloc.stop()
    main()
