"""The benchmark: vhskoop-idp side by side with node ``oidc-provider``, per core, on loopback.

    .venv/bin/python bench/compare.py                      # everything (about 40 minutes)
    .venv/bin/python bench/compare.py --db sqlite --alg RS256 --runs 1 --duration 5   # a look

For each database (SQLite, PostgreSQL) and signing algorithm (RS256 with RSA 3072 keys on
both sides, ES256), the peer and then this provider are started pinned to CPU 1, and the
load generator (bench/load.py: wrk for single requests, a lean multi-process client for
the flows) runs pinned to CPU 0. The peer is npm ``oidc-provider`` (bench/peer/server.js:
one process, in-memory store, the same grants, refresh rotation, PKCE); this provider is
set up through its command line (one VHS, one client with all three grants, one account)
and served by granian with one worker (``--server gunicorn`` for one sync worker).

Scenarios: a discovery, b JWKS, c client_credentials, f userinfo (32 connections),
d refresh_token (16 rotating chains), e the whole code flow with login and consent
(16 flows), g the login page (8 connections; ours only). Per scenario it prints requests
per second per core (the median of ``--runs``), p50, p99, errors, the server's RSS, the
generator's CPU and the ratio ours/peer. For e it also prints the server CPU per login
and that minus one password verification, measured in the same run with the same Argon2id
settings (``--argon min``: t=1, 8 MiB; ``prod``: the defaults, with the hash ceiling).
``--vhs 1000`` onboards that many VHS first (the login page's drop-down lists them all).
Everything goes to a temporary folder; results as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
REDIRECT = "http://127.0.0.1:9999/cb"
USER = "test.user@example.org"
PASSWORD = "Bench-Kennwort-2026-xyz"
PEER_PASSWORD = "test-password"
ARGON = {"min": {"IDP_ARGON2_TIME_COST": "1", "IDP_ARGON2_MEMORY_COST": "8192"}, "prod": {}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    for _ in range(300):
        try:
            with urlopen(url, timeout=1):
                return
        except OSError:
            if process.poll() is not None:
                sys.exit(f"server ended: {log.read_text()[-2000:]}")
            time.sleep(0.1)
    sys.exit(f"server did not answer at {url}")


def children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return []
    return [int(p) for p in out.split()]


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def load(issuer: str, driver: str, server_pid: int, options, scenarios: str, out: Path,
         username_field: str, password: str, cc_scope: str) -> dict:
    """Run bench/load.py pinned to CPU 0; its JSON report."""
    command = ["taskset", "-c", "0", sys.executable, str(HERE / "load.py"),
               "--issuer", issuer, "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
               "--redirect-uri", REDIRECT, "--driver", driver, "--username", USER,
               "--password", password, "--username-field", username_field,
               "--cc-scope", cc_scope, "--gen-cpus", "0", "--server-pid", str(server_pid),
               "--scenarios", scenarios, "--runs", str(options.runs),
               "--duration", str(options.duration), "--warmup", str(options.warmup),
               "--json", str(out)]
    subprocess.run(command, check=True, env={**os.environ, "BENCH_TENANT": "bench"})
    return json.loads(out.read_text())


def run_peer(alg: str, work: Path, options) -> dict:
    """The peer: npm oidc-provider in one node process on CPU 1."""
    peer = work / "peer"
    peer.mkdir(exist_ok=True)
    for name in ("package.json", "package-lock.json", "server.js"):
        shutil.copy(HERE / "peer" / name, peer / name)
    if not (peer / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=peer,
                       check=True)
    port = free_port()
    log = work / f"peer-{alg}.log"
    env = {**os.environ, "NODE_ENV": "production", "PORT": str(port), "SIGN_ALG": alg,
           "RSA_BITS": "3072", "KEYS_DIR": str(work)}
    with open(log, "w") as out:
        process = subprocess.Popen(["taskset", "-c", "1", "node", "server.js"], cwd=peer,
                                   env=env, stdout=out, stderr=out, start_new_session=True)
    issuer = f"http://127.0.0.1:{port}"
    try:
        wait_for(issuer + "/.well-known/openid-configuration", process, log)
        scenarios = ",".join(s for s in options.scenarios.split(",") if s != "g")
        return load(issuer, "oidc-provider", process.pid, options, scenarios,
                    work / f"peer-{alg}.json", "login", PEER_PASSWORD, "api:read")
    finally:
        stop(process)


def setup_ours(env: dict, alg: str, vhs_count: int, folder: Path) -> None:
    """One VHS, one client with every grant, one account, through the command line (run in
    ``folder``, so that no checkout in the working directory shadows PYTHONPATH)."""
    idp = str(BIN / "vhskoop-idp")
    steps = [
        [idp, "db", "upgrade"],
        [idp, "vhs", "add", "bench", "--name", "vhs Bench", "--onboarded"],
        [idp, "clients", "add", CLIENT_ID, "--secret", CLIENT_SECRET, "--redirect-uri",
         REDIRECT, "--grant", "authorization_code", "--grant", "refresh_token", "--grant",
         "client_credentials", "--scope", "openid email profile offline_access",
         "--first-party", "--id-token-alg", alg],
    ]
    for step in steps:
        subprocess.run(step, env=env, check=True, capture_output=True, cwd=folder)
    subprocess.run([idp, "accounts", "add", "--vhs", "bench", "--email", USER, "--name",
                    "Test User", "--password-stdin"], env=env, check=True,
                   input=PASSWORD.encode(), capture_output=True, cwd=folder)
    if vhs_count > 1:  # the other VHS in one statement (a command each would take minutes)
        subprocess.run([sys.executable, "-c", (
            "from sqlalchemy import insert\n"
            "from idp import create_app, db\n"
            "from idp.models import Vhs\n"
            "app = create_app()\n"
            "with app.app_context():\n"
            "    db.session().execute(insert(Vhs), [\n"
            "        {'slug': f'ort-{n:04d}', 'name': f'vhs Ort {n:04d}', 'onboarded': True}\n"
            f"        for n in range({vhs_count - 1})])\n"
            "    db.session().commit()\n")], env=env, check=True, cwd=folder)


HASH_TIMING = """
import os, statistics, time
from argon2 import PasswordHasher
hasher = PasswordHasher(time_cost=int(os.environ.get("IDP_ARGON2_TIME_COST", 3)),
                        memory_cost=int(os.environ.get("IDP_ARGON2_MEMORY_COST", 65536)),
                        parallelism=1)
stored, took = hasher.hash("x" * 20), []
for _ in range(30):
    started = time.process_time()
    hasher.verify(stored, "x" * 20)
    took.append(time.process_time() - started)
print(statistics.median(took))
"""


def environment(issuer: str, folder: Path, argon: str) -> dict[str, str]:
    """This process's environment with the settings of a benchmarked server: no IDP_* of
    the caller, the throttle out of the way, the documented production command's MALLOC_*
    variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "PYTHONPATH"))}
    env.update({"IDP_ISSUER": issuer, "IDP_KEYS_DIR": str(folder / "keys"),
                "IDP_SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789abcdef",
                "IDP_INSTANCE_PATH": str(folder), "IDP_LOG_FORMAT": "text",
                # as the documented production command: fewer malloc arenas, and Argon2id's
                # buffers given back to the system after each hash
                "MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "1048576",
                **{f"IDP_{name}": "1000000 per minute" for name in (
                    "THROTTLE_IP", "THROTTLE_ADDRESS_IP", "THROTTLE_ACCOUNT", "THROTTLE_SLOWED",
                    "THROTTLE_CLIENT_IP")}, **ARGON[argon]})
    return env


def fresh_database(name: str | None, folder: Path) -> str:
    """The URL of a new PostgreSQL database ``name`` (created now), or without a name of
    a SQLite file in ``folder``."""
    if name is None:
        return f"sqlite:///{folder}/idp.sqlite3"
    subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-c",
                    f"create database {name}"], check=True)
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_database(name: str | None) -> None:
    """Drop the PostgreSQL database ``name`` of a run, if it had one."""
    if name:
        subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-c",
                        f"drop database if exists {name} with (force)"], check=False)


def hash_seconds(env: dict) -> float:
    """One Argon2id verification with the server's settings, on its core: median of 30."""
    out = subprocess.run(["taskset", "-c", "1", sys.executable, "-c", HASH_TIMING], env=env,
                         check=True, capture_output=True, text=True).stdout
    return float(out)


def run_ours(db: str, alg: str, work: Path, options, source: Path | None = None) -> dict:
    """This provider: set up through its CLI, one worker on CPU 1; with ``source``, the
    code of that checkout (first on PYTHONPATH) on this environment's libraries."""
    folder = Path(tempfile.mkdtemp(prefix=f"ours-{db}-{alg}-", dir=work))
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = environment(issuer, folder, options.argon)
    if source is not None:
        env["PYTHONPATH"] = str(source)
        found = subprocess.run([sys.executable, "-c", "import idp; print(idp.__file__)"],
                               env=env, cwd=folder, capture_output=True, text=True).stdout
        assert found.startswith(str(source)), f"the base's code is not the one imported: {found}"
    database = f"bench_{os.getpid()}_{int(time.time())}" if db == "pg" else None
    env["IDP_DATABASE_URL"] = fresh_database(database, folder)
    log = folder / "server.log"
    try:
        setup_ours(env, alg, options.vhs, folder)
        if options.server == "granian":
            command = [str(BIN / "granian"), "--interface", "wsgi", "--workers", "1",
                       "--blocking-threads", str(options.threads), "--host", "127.0.0.1",
                       "--port", str(port), "--no-access-log", "idp.wsgi:app"]
        else:
            command = [str(BIN / "gunicorn"), "-w", "1", "-k", "sync", "--backlog", "2048",
                       "--bind", f"127.0.0.1:{port}", "idp.wsgi:app"]
        with open(log, "w") as out:
            process = subprocess.Popen(["taskset", "-c", "1", *command], env=env, stdout=out,
                                       stderr=out, start_new_session=True, cwd=folder)
        try:
            wait_for(issuer + "/.well-known/openid-configuration", process, log)
            worker = (children(process.pid) or [process.pid])[0]
            report = load(issuer, "ours", worker, options, options.scenarios,
                          folder / "ours.json", "email", PASSWORD, "openid")
        finally:
            stop(process)
        report["hash_seconds"] = hash_seconds(env)
        return report
    finally:
        drop_database(database)


def table(db: str, alg: str, peer: dict | None, ours: dict) -> list[str]:
    argon = "t=1, 8 MiB" if ours.get("argon") == "min" else "defaults"
    lines = [f"\n## {db}, {alg}, Argon2id {argon}, {ours.get('vhs', 1)} VHS",
             "| scenario | peer/s | ours/s | ratio | ours p50 ms | ours p99 ms | errors | "
             "ours RSS MiB | gen CPU |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key, found in ours["scenarios"].items():
        med = found["median"]
        theirs = (peer or {}).get("scenarios", {}).get(key, {}).get("median")
        ratio = f"{med['rps'] / theirs['rps']:.2f}" if theirs else "-"
        rss = (found.get("mem_after_mib") or {}).get("VmRSS", "-")
        lines.append(f"| {key} {found['name']} | {theirs['rps']:,.0f} | " if theirs else
                     f"| {key} {found['name']} | - | ")
        lines[-1] += (f"{med['rps']:,.1f} | {ratio} | {med['p50_ms']:.2f} | {med['p99_ms']:.2f} "
                      f"| {med['errors']} | {rss} | {med['gen_cpu']:.2f} |")
    flow = ours["scenarios"].get("e")
    if flow:
        med = flow["median"]
        per_login = 1000 * (med["srv_cpu"] or 1.0) / med["rps"]
        hashed = 1000 * ours["hash_seconds"]
        lines.append(f"\nserver CPU per login {per_login:.1f} ms, one Argon2id verification "
                     f"{hashed:.1f} ms, so {per_login - hashed:.1f} ms beyond the hash; "
                     f"{med['rps']:.1f} logins/s = {100 * med['rps'] * ours['hash_seconds']:.0f}"
                     f" % of the hash ceiling ({1 / ours['hash_seconds']:.1f}/s)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,pg")
    parser.add_argument("--alg", default="RS256,ES256")
    parser.add_argument("--scenarios", default="a,b,c,f,d,e,g")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--argon", choices=sorted(ARGON), default="min")
    parser.add_argument("--vhs", type=int, default=1, help="onboarded VHS (login drop-down)")
    parser.add_argument("--server", choices=["granian", "gunicorn"], default="granian")
    parser.add_argument("--threads", type=int, default=2, help="granian's WSGI threads")
    parser.add_argument("--no-peer", action="store_true", help="measure this provider only")
    parser.add_argument("--out", default="", help="write every report to this JSON file")
    options = parser.parse_args()
    for tool in ("taskset", "wrk", "node", "npm"):
        if not shutil.which(tool) and not (options.no_peer and tool in ("node", "npm")):
            sys.exit(f"{tool} is missing (apt-get install util-linux wrk nodejs npm)")
    work = Path(tempfile.mkdtemp(prefix="idp-compare-"))
    results, lines = [], []
    try:
        for alg in options.alg.split(","):
            peer = None if options.no_peer else run_peer(alg, work, options)
            for db in options.db.split(","):
                ours = run_ours(db, alg, work, options)
                ours.update(argon=options.argon, vhs=options.vhs)
                results.append({"db": db, "alg": alg, "peer": peer, "ours": ours,
                                "server": options.server})
                block = table(db, alg, peer, ours)
                print("\n".join(block), flush=True)
                lines.extend(block)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n# summary" + "\n".join(lines))
    if options.out:
        Path(options.out).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
