#!/usr/bin/env python3
"""OIDC Provider load harness (loopback only), driven by bench/compare.py for both sides.

Works against any OP given issuer, client id/secret (client_secret_basic), redirect URI and a
*login driver* (see DRIVERS). Scenarios:
  a discovery GET      b JWKS GET       c token: client_credentials
  d token: refresh_token (one rotating chain per worker)
  e full authorization-code + PKCE login
    (authorize -> login -> consent -> code -> token -> userinfo)
  f userinfo GET with a bearer token
  g the login page GET (--login-path; the page every person opens first)
a/b/c/f run on `wrk` (C, epoll; one thread saturates far more than one Node/Python server core)
when it is installed, else on the Python engine. d/e need per-request state (rotating refresh
tokens, cookies, PKCE, HTML forms), so they always run on the Python engine: N processes x M
threads, each thread with its own keep-alive connection (class Http). Processes rather than one
process so the GIL never serialises the generator when it is given more than one core.
Http is a ~60-line stdlib http.client wrapper instead of requests/httpx: on this machine requests
cost ~835 us client CPU per request vs ~134 us for http.client, which made the generator (one core)
the bottleneck for d/e. Drivers see a requests-like subset: .get/.post -> .status_code .headers
.text .url .json(); redirects are never followed automatically; `.cookies` is a plain dict.
Server and generator CPU use are measured per run to show which side was the bottleneck.
"""

import argparse
import base64
import hashlib
import html.parser
import http.client
import json
import multiprocessing as mp
import os
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlparse

TIMEOUT = 10.0  # seconds, connect and each socket read: every request has one
HERE = os.path.dirname(os.path.abspath(__file__))


class BenchError(Exception):
    pass


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# --------------------------------------------------------------------------- minimal HTTP client
class Resp:
    __slots__ = ("status_code", "headers", "content", "url")

    def __init__(self, status_code, headers, content, url):
        self.status_code, self.headers, self.content, self.url = status_code, headers, content, url

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


class Http:
    """Keep-alive HTTP/1.1 client on stdlib http.client: one connection per scheme+host, a flat
    cookie jar (name -> value; enough for one OP host), no automatic redirects, TIMEOUT on
    all I/O."""

    def __init__(self):
        self.conns, self.cookies = {}, {}

    def _conn(self, scheme, netloc):
        c = self.conns.get((scheme, netloc))
        if c is None:
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            c = self.conns[(scheme, netloc)] = cls(netloc, timeout=TIMEOUT)
        return c

    def request(self, method, url, params=None, data=None, headers=None):
        u = urlparse(url)
        query = "&".join(x for x in (u.query, urlencode(params) if params else "") if x)
        target = (u.path or "/") + ("?" + query if query else "")
        h = {"Host": u.netloc, "Accept-Encoding": "identity", **(headers or {})}
        body = None
        if data is not None:
            body = urlencode(data).encode() if isinstance(data, dict) else data
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (0, 1):
            fresh = (u.scheme, u.netloc) not in self.conns
            c = self._conn(u.scheme, u.netloc)
            try:
                c.request(method, target, body=body, headers=h)
                r = c.getresponse()
                content = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                c.close()
                self.conns.pop((u.scheme, u.netloc), None)
                if fresh or attempt:  # retry once, only when a reused keep-alive socket was stale
                    raise
        for sc in r.msg.get_all("Set-Cookie") or []:
            name, _, rest = sc.partition("=")
            value, low = rest.split(";", 1)[0], sc.lower()
            if not value or "max-age=0" in low or "01 jan 1970" in low:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        if r.will_close:
            c.close()
            self.conns.pop((u.scheme, u.netloc), None)
        full = f"{u.scheme}://{u.netloc}{target}"
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, content, full)

    def get(self, url, params=None, headers=None):
        return self.request("GET", url, params=params, headers=headers)

    def post(self, url, data=None, headers=None):
        return self.request("POST", url, data=data, headers=headers)


# --------------------------------------------------------------------------- HTML form helpers
class _Forms(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "action": a.get("action") or "",
                    "method": (a.get("method") or "get").lower(),
                    "inputs": [],
                    "submit": None,
                }
            )
        elif self.forms and tag == "input" and a.get("name"):
            self.forms[-1]["inputs"].append(
                (a["name"], (a.get("type") or "text").lower(), a.get("value") or "")
            )
        elif self.forms and tag == "button" and a.get("name") and self.forms[-1]["submit"] is None:
            self.forms[-1]["submit"] = (a["name"], a.get("value") or "")


def parse_forms(text):
    p = _Forms()
    p.feed(text)
    return p.forms


def follow(http, r, redirect_uri, max_hops=10):
    """Follow redirects by hand. Returns the callback URL (str) once a Location points at
    redirect_uri, else the first non-redirect Response (an HTML page for the driver)."""
    for _ in range(max_hops):
        if r.status_code not in (301, 302, 303, 307, 308):
            return r
        loc = urljoin(r.url, r.headers["location"])
        if loc.startswith(redirect_uri):
            return loc
        r = http.get(loc)
    raise BenchError("too many redirects")


# --------------------------------------------------------------------------- login drivers
# A login driver gets (http session, response of GET /authorize, cfg) and must return the callback
# URL (redirect_uri?code=...&state=...). It submits credentials and consent, using `follow` to walk
# redirects. It must not follow the redirect to redirect_uri itself (nothing listens there).
def driver_form_walker(http, r, cfg):
    """Generic: on each HTML page submit the first form, keeping hidden inputs (CSRF etc.),
    filling the username field and any password field. Fits oidc-provider's interaction pages."""
    for _ in range(6):
        res = follow(http, r, cfg.redirect_uri)
        if isinstance(res, str):
            return res
        forms = parse_forms(res.text)
        if not forms:
            raise BenchError(f"no form on {res.url} (HTTP {res.status_code}): {res.text[:200]!r}")
        f = forms[0]
        data = {}
        for name, typ, value in f["inputs"]:
            if typ == "password":
                data[name] = cfg.password
            elif name == cfg.username_field:
                data[name] = cfg.username
            elif typ in ("hidden", "text", "email") or value:
                data[name] = value
        if f["submit"]:
            data.setdefault(*f["submit"])
        action = urljoin(res.url, f["action"] or res.url)
        if f["method"] == "post":
            r = http.post(action, data=data)
        else:
            r = http.get(action, params=data)
    raise BenchError("login did not reach redirect_uri after 6 pages")


def driver_ours(http, r, cfg):
    """vhskoop-idp: the login form also needs the VHS (<select name="tenant">, from env
    BENCH_TENANT);
    on other pages (consent) submit the form whose button approves."""
    tenant = os.environ.get("BENCH_TENANT", "bench")
    for _ in range(6):
        res = follow(http, r, cfg.redirect_uri)
        if isinstance(res, str):
            return res
        forms = parse_forms(res.text)
        if not forms:
            raise BenchError(f"no form on {res.url} (HTTP {res.status_code}): {res.text[:200]!r}")
        login = [f for f in forms if any(t == "password" for _, t, _ in f["inputs"])]
        f = (
            login[0]
            if login
            else next(
                (
                    f
                    for f in forms
                    if f["submit"]
                    and re.search(
                        r"allow|approve|accept|consent|yes|zulassen|erlauben",
                        f"{f['submit'][0]} {f['submit'][1]}",
                        re.I,
                    )
                ),
                forms[-1],
            )
        )
        data = {}
        for name, typ, value in f["inputs"]:
            if typ == "submit":
                if re.search(r"allow|approve|accept|consent|zulassen", f"{name} {value}", re.I):
                    data[name] = value
            elif typ == "password":
                data[name] = cfg.password
            elif name == cfg.username_field:
                data[name] = cfg.username
            elif typ in ("hidden", "text", "email") or value:
                data[name] = value
        if login:
            data["tenant"] = tenant
        if f["submit"]:
            data.setdefault(*f["submit"])
        action = urljoin(res.url, f["action"] or res.url)
        r = http.post(action, data=data) if f["method"] == "post" else http.get(action, params=data)
    raise BenchError("login did not reach redirect_uri after 6 pages")


DRIVERS = {"oidc-provider": driver_form_walker, "form": driver_form_walker, "ours": driver_ours}


# --------------------------------------------------------------------------- OIDC client steps
class OP:
    def __init__(self, cfg, http=None):
        http = http or Http()
        d = http.get(cfg.issuer.rstrip("/") + "/.well-known/openid-configuration")
        if d.status_code != 200:
            raise BenchError(f"discovery: HTTP {d.status_code}")
        self.meta = d.json()
        self.cfg = cfg
        # client_secret_basic: id and secret are form-urlencoded before Basic (RFC 6749 2.3.1)
        cred = f"{quote(cfg.client_id, safe='')}:{quote(cfg.client_secret, safe='')}"
        self.basic = "Basic " + base64.b64encode(cred.encode()).decode()

    def token(self, http, data):
        r = http.post(
            self.meta["token_endpoint"],
            data=data,
            headers={"Authorization": self.basic, "Accept": "application/json"},
        )
        if r.status_code != 200:
            raise BenchError(f"token {data.get('grant_type')}: HTTP {r.status_code} {r.text[:200]}")
        return r.json()

    def userinfo(self, http, access_token):
        r = http.get(
            self.meta["userinfo_endpoint"],
            headers={"Authorization": "Bearer " + access_token, "Accept": "application/json"},
        )
        if r.status_code != 200:
            raise BenchError(f"userinfo: HTTP {r.status_code} {r.text[:200]}")
        return r.json()

    def login(self, http, steps=None):
        """Full authorization-code + PKCE (S256) flow with a fresh cookie jar.
        Returns (token response, userinfo). Per-step seconds are added to `steps` if given."""
        cfg = self.cfg
        http.cookies.clear()
        verifier = b64u(secrets.token_bytes(32))
        state, nonce = b64u(secrets.token_bytes(12)), b64u(secrets.token_bytes(12))
        params = {
            "response_type": "code",
            "client_id": cfg.client_id,
            "redirect_uri": cfg.redirect_uri,
            "scope": cfg.scope,
            "state": state,
            "nonce": nonce,
            "code_challenge_method": "S256",
            "code_challenge": b64u(hashlib.sha256(verifier.encode()).digest()),
            **cfg.auth_extra,
        }
        t0 = time.perf_counter()
        r = http.get(self.meta["authorization_endpoint"], params=params)
        cb = DRIVERS[cfg.driver](http, r, cfg)
        q = parse_qs(urlparse(cb).query)
        if "code" not in q or q.get("state") != [state]:
            raise BenchError(f"bad callback: {cb[:200]}")
        t1 = time.perf_counter()
        tok = self.token(
            http,
            {
                "grant_type": "authorization_code",
                "code": q["code"][0],
                "redirect_uri": cfg.redirect_uri,
                "code_verifier": verifier,
            },
        )
        t2 = time.perf_counter()
        ui = self.userinfo(http, tok["access_token"])
        t3 = time.perf_counter()
        if "sub" not in ui:
            raise BenchError(f"userinfo without sub: {ui}")
        if steps is not None:
            for k, v in (
                ("authorize+login+consent", t1 - t0),
                ("token", t2 - t1),
                ("userinfo", t3 - t2),
            ):
                steps.setdefault(k, []).append(v)
        return tok, ui


# --------------------------------------------------------------------------- Python engine
def _thread_loop(scn, op, cfg, seed, go, duration, out):
    http = Http()
    lat, steps, errors, ok = [], {}, 0, 0
    state = {"rt": None}

    def new_rt():
        tok, _ = op.login(http)
        if "refresh_token" not in tok:
            raise BenchError("no refresh_token (offline_access / prompt=consent?)")
        state["rt"] = tok["refresh_token"]

    if scn == "d":
        new_rt()  # each thread owns one refresh-token chain (rotation-safe: never shared)
    ops = {
        "a": lambda: _get_json(http, cfg.issuer.rstrip("/") + "/.well-known/openid-configuration"),
        "b": lambda: _get_json(http, op.meta["jwks_uri"]),
        "c": lambda: op.token(
            http, {"grant_type": "client_credentials", "scope": cfg.cc_scope, **cfg.cc_extra}
        ),
        "e": lambda: op.login(http, steps),
        "f": lambda: op.userinfo(http, seed["access_token"]),
        "g": lambda: _get_json(http, cfg.issuer.rstrip("/") + cfg.login_path),
    }

    def refresh():
        j = op.token(http, {"grant_type": "refresh_token", "refresh_token": state["rt"]})
        state["rt"] = j.get("refresh_token", state["rt"])

    ops["d"] = refresh
    fn = ops[scn]
    go.wait()
    end = time.monotonic() + duration
    while True:
        t = time.perf_counter()
        if time.monotonic() >= end:
            break
        try:
            fn()
            lat.append(time.perf_counter() - t)
            ok += 1
        except Exception as e:  # noqa: BLE001 - every failure is an error count, loop goes on
            errors += 1
            if errors <= 3:
                print(f"  [{scn}] error: {e!r}"[:300], file=sys.stderr)
            if scn == "d":
                try:
                    new_rt()  # chain broken: start a new one (time not counted)
                except Exception:  # noqa: BLE001
                    time.sleep(0.1)
    out.append((ok, errors, lat, steps))


def _get_json(http, url):
    r = http.get(url, headers={"Accept": "application/json"})
    if r.status_code != 200:
        raise BenchError(f"GET {url}: HTTP {r.status_code}")
    return r.content


def _proc_main(scn, cfg, seed, threads, go, ready, duration, q):
    if cfg.gen_cpus:
        os.sched_setaffinity(0, cfg.gen_cpus)
    op = OP(cfg)
    out, ts = [], []
    for _ in range(threads):
        t = threading.Thread(
            target=_thread_loop, args=(scn, op, cfg, seed, go, duration, out), daemon=True
        )
        t.start()
        ts.append(t)
    ready.put(os.getpid())
    go.wait()
    cpu0 = time.process_time()
    for t in ts:
        t.join(duration + 30)
    cpu = time.process_time() - cpu0
    ok = sum(o[0] for o in out)
    err = sum(o[1] for o in out) + (threads - len(out))  # a hung thread counts as an error
    lat = [x for o in out for x in o[2]]
    steps = {}
    for o in out:
        for k, v in o[3].items():
            steps.setdefault(k, []).extend(v)
    q.put((ok, err, lat, steps, cpu))


def run_python(scn, cfg, seed, duration, conc):
    procs_n = max(1, min(cfg.procs, conc))
    per = [conc // procs_n + (1 if i < conc % procs_n else 0) for i in range(procs_n)]
    ctx = mp.get_context("fork")
    go, ready, q = ctx.Event(), ctx.Queue(), ctx.Queue()
    procs = [
        ctx.Process(
            target=_proc_main, args=(scn, cfg, seed, n, go, ready, duration, q), daemon=True
        )
        for n in per
    ]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready.get(timeout=120)
        time.sleep(0.5)  # let per-thread setup (e.g. refresh-token chains) finish
        srv0 = server_cpu(cfg.server_pid)
        t0 = time.monotonic()
        go.set()
        res = [q.get(timeout=duration + 60) for _ in procs]
        wall = time.monotonic() - t0
        srv = server_cpu(cfg.server_pid) - srv0 if cfg.server_pid else None
    finally:
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.terminate()  # only our own child processes
                p.join(5)
    ok = sum(r[0] for r in res)
    lat = sorted(x for r in res for x in r[2])
    steps = {}
    for r in res:
        for k, v in r[3].items():
            steps.setdefault(k, []).extend(v)
    return {
        "engine": "python",
        "ok": ok,
        "errors": sum(r[1] for r in res),
        "rps": ok / duration,
        "p50_ms": pct(lat, 50) * 1e3,
        "p99_ms": pct(lat, 99) * 1e3,
        "gen_cpu": sum(r[4] for r in res) / duration,
        "srv_cpu": srv / wall if srv is not None else None,
        "steps_p50_ms": {k: pct(sorted(v), 50) * 1e3 for k, v in steps.items()},
    }


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(round(p / 100 * (len(sorted_vals) - 1))))]


# --------------------------------------------------------------------------- wrk engine
def run_wrk(scn, cfg, op, seed, duration, conc):
    env = dict(os.environ, BENCH_METHOD="GET", BENCH_BODY="", BENCH_AUTH="")
    if scn == "a":
        url = cfg.issuer.rstrip("/") + "/.well-known/openid-configuration"
    elif scn == "b":
        url = op.meta["jwks_uri"]
    elif scn == "c":
        url = op.meta["token_endpoint"]
        env.update(
            BENCH_METHOD="POST",
            BENCH_AUTH=op.basic,
            BENCH_BODY=urlencode(
                {"grant_type": "client_credentials", "scope": cfg.cc_scope, **cfg.cc_extra}
            ),
        )
    elif scn == "f":
        url = op.meta["userinfo_endpoint"]
        env.update(BENCH_AUTH="Bearer " + seed["access_token"])
    elif scn == "g":
        url = cfg.issuer.rstrip("/") + cfg.login_path
        env.update(BENCH_ACCEPT="text/html")
    cmd = [
        cfg.wrk,
        "-t1",
        f"-c{conc}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        os.path.join(HERE, "wrk_report.lua"),
        url,
    ]
    if cfg.gen_cpus:
        cmd = ["taskset", "-c", ",".join(map(str, sorted(cfg.gen_cpus)))] + cmd
    ru0, srv0 = resource.getrusage(resource.RUSAGE_CHILDREN), server_cpu(cfg.server_pid)
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
    wall = time.monotonic() - t0
    srv = server_cpu(cfg.server_pid) - srv0 if cfg.server_pid else None
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = re.search(r"^BENCHJSON (.*)$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise BenchError(f"wrk failed rc={p.returncode}: {p.stdout[-500:]} {p.stderr[-500:]}")
    j = json.loads(m.group(1))
    errs = j["connect"] + j["read"] + j["write"] + j["status"] + j["timeout"]
    secs = j["duration_us"] / 1e6
    return {
        "engine": "wrk",
        "ok": j["requests"] - j["status"],
        "errors": errs,
        "rps": (j["requests"] - j["status"]) / secs,
        "p50_ms": j["p50_us"] / 1e3,
        "p99_ms": j["p99_us"] / 1e3,
        "gen_cpu": (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / wall,
        "srv_cpu": srv / wall if srv is not None else None,
    }


# --------------------------------------------------------------------------- server stats
def server_cpu(pid):
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def server_mem(pid):
    if not pid:
        return None
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = round(int(v.split()[0]) / 1024, 1)  # MiB
    return out


# --------------------------------------------------------------------------- main
NAMES = {
    "a": "discovery GET",
    "b": "JWKS GET",
    "c": "token client_credentials",
    "d": "token refresh_token",
    "e": "auth-code+PKCE login (end to end)",
    "f": "userinfo GET (bearer)",
    "g": "login page GET",
}


def check(cfg):
    """One pass of every flow with assertions; prints facts worth recording (token formats,
    rotation)."""
    http = Http()
    op = OP(cfg, http)
    facts = {}
    tok, ui = op.login(http)
    facts["userinfo"] = ui
    facts["id_token_alg"] = json.loads(
        base64.urlsafe_b64decode(tok["id_token"].split(".")[0] + "==")
    ).get("alg")
    try:
        import jwt  # PyJWT, optional: verify the ID token against the OP's JWKS

        key = jwt.PyJWKClient(op.meta["jwks_uri"]).get_signing_key_from_jwt(tok["id_token"])
        claims = jwt.decode(
            tok["id_token"],
            key.key,
            algorithms=[facts["id_token_alg"]],
            audience=cfg.client_id,
            issuer=op.meta["issuer"],
        )
        facts["id_token_verified"] = bool(claims.get("sub"))
    except ImportError:
        facts["id_token_verified"] = "PyJWT not installed"
    facts["refresh_token_issued"] = "refresh_token" in tok
    if "refresh_token" in tok:
        r2 = op.token(http, {"grant_type": "refresh_token", "refresh_token": tok["refresh_token"]})
        facts["refresh_rotates"] = (
            r2.get("refresh_token", tok["refresh_token"]) != tok["refresh_token"]
        )
    cc = op.token(http, {"grant_type": "client_credentials", "scope": cfg.cc_scope, **cfg.cc_extra})
    facts["cc_access_token"] = "JWT" if cc["access_token"].count(".") == 2 else "opaque"
    if facts["cc_access_token"] == "JWT":
        facts["cc_jwt_alg"] = json.loads(
            base64.urlsafe_b64decode(cc["access_token"].split(".")[0] + "==")
        ).get("alg")
    facts["login_access_token"] = "JWT" if tok["access_token"].count(".") == 2 else "opaque"
    return facts


def kv(items):
    return dict(i.split("=", 1) for i in items)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--client-secret", required=True)
    ap.add_argument("--redirect-uri", required=True)
    ap.add_argument("--driver", default="oidc-provider", choices=sorted(DRIVERS))
    ap.add_argument("--username", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument(
        "--username-field", default="login", help="form field the driver fills with --username"
    )
    ap.add_argument("--scope", default="openid email profile offline_access")
    ap.add_argument(
        "--auth-extra",
        nargs="*",
        default=["prompt=consent"],
        help="extra authorize params k=v (prompt=consent: OIDC requires it for offline_access)",
    )
    ap.add_argument("--cc-scope", default="api:read")
    ap.add_argument("--cc-extra", nargs="*", default=[], help="extra client_credentials params k=v")
    ap.add_argument("--scenarios", default="a,b,c,f,d,e")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run")
    ap.add_argument(
        "--warmup", type=int, default=3, help="seconds of discarded warm-up per scenario"
    )
    ap.add_argument("--conc", type=int, default=32, help="connections for a/b/c/f")
    ap.add_argument("--flow-conc", type=int, default=16, help="concurrent workers for d/e")
    ap.add_argument("--procs", type=int, default=4, help="Python engine processes")
    ap.add_argument(
        "--engine",
        choices=["auto", "python"],
        default="auto",
        help="auto: wrk for a/b/c/f if found",
    )
    ap.add_argument("--gen-cpus", default="", help="pin generator to these CPUs, e.g. 0")
    ap.add_argument(
        "--server-pid", type=int, default=0, help="OP process to sample CPU and RSS from"
    )
    ap.add_argument("--json", default="", help="write all runs to this file")
    ap.add_argument("--check", action="store_true", help="only run the functional check and exit")
    ap.add_argument("--login-path", default="/login", help="the login page for scenario g")
    cfg = ap.parse_args()
    cfg.auth_extra, cfg.cc_extra = kv(cfg.auth_extra), kv(cfg.cc_extra)
    cfg.gen_cpus = {int(c) for c in cfg.gen_cpus.split(",") if c != ""}
    cfg.wrk = shutil.which("wrk") if cfg.engine == "auto" else None
    for u in (cfg.issuer, cfg.redirect_uri):
        if urlparse(u).hostname not in ("127.0.0.1", "localhost", "::1"):
            sys.exit(f"refusing non-loopback target {u}")
    if cfg.gen_cpus:
        os.sched_setaffinity(0, cfg.gen_cpus)

    facts = check(cfg)
    print("check:", json.dumps(facts, ensure_ascii=False))
    if cfg.check:
        return
    http = Http()
    op = OP(cfg, http)
    seed = {"access_token": op.login(http)[0]["access_token"]}  # for f
    report = {"facts": facts, "mem_start_mib": server_mem(cfg.server_pid), "scenarios": {}}
    for scn in cfg.scenarios.split(","):
        use_wrk = cfg.wrk and scn in "abcfg"
        conc = cfg.conc if scn in "abcf" else 8 if scn == "g" else cfg.flow_conc

        def once(d):
            return (
                run_wrk(scn, cfg, op, seed, d, conc)
                if use_wrk
                else run_python(scn, cfg, seed, d, conc)
            )

        if cfg.warmup:
            once(cfg.warmup)
        runs = [once(cfg.duration) for _ in range(cfg.runs)]
        med = {
            k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms", "gen_cpu")
        }
        med["srv_cpu"] = statistics.median(r["srv_cpu"] for r in runs) if cfg.server_pid else None
        med["errors"] = sum(r["errors"] for r in runs)
        med["ok"] = sum(r["ok"] for r in runs)
        if "steps_p50_ms" in runs[0]:
            med["steps_p50_ms"] = {
                k: statistics.median(r["steps_p50_ms"].get(k, float("nan")) for r in runs)
                for k in runs[0]["steps_p50_ms"]
            }
        mem = server_mem(cfg.server_pid)
        report["scenarios"][scn] = {
            "name": NAMES[scn],
            "engine": runs[0]["engine"],
            "conc": conc,
            "median": med,
            "runs": runs,
            "mem_after_mib": mem,
        }
        srv = f"{med['srv_cpu']:.2f}" if med["srv_cpu"] is not None else "-"
        print(
            f"{scn} {NAMES[scn]:<36} {med['rps']:9.1f}/s  p50 {med['p50_ms']:7.2f} ms  "
            f"p99 {med['p99_ms']:7.2f} ms"
            f"  err {med['errors']}  srv_cpu {srv}  gen_cpu {med['gen_cpu']:.2f}  rss {mem}"
            + (
                "  steps "
                + json.dumps({k: round(v, 2) for k, v in med.get("steps_p50_ms", {}).items()})
                if med.get("steps_p50_ms")
                else ""
            ),
            flush=True,
        )
    report["mem_end_mib"] = server_mem(cfg.server_pid)
    if cfg.json:
        with open(cfg.json, "w") as f:
            json.dump(report, f, indent=1, default=str)


if __name__ == "__main__":
    main()
