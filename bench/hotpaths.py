"""Where the server's time goes, per scenario: pyinstrument over many requests in-process.

    .venv/bin/python bench/hotpaths.py [--scenario cc|refresh|userinfo|login|login-page]
                                      [--requests 500] [--html out.html]

A fresh provider on SQLite (inprocess.fresh_app, the cheapest Argon2id), one VHS, one
client with every grant, one account; Flask's test client sends the requests (no HTTP
server, so only the provider's own work is profiled). Prints the profile as text.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import secrets
import time
from urllib.parse import parse_qs, urlsplit

from inprocess import csrf_token, fresh_app
from pyinstrument import Profiler

from idp.cli import runner as cli_runner

SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
PASSWORD = "Bench-Kennwort-2026-xyz"
CALLBACK = "http://127.0.0.1:9/cb"
BASIC = {"Authorization": "Basic " + base64.b64encode(f"bench:{SECRET}".encode()).decode()}


def setup(vhs_count: int):
    app = fresh_app(ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=8192)
    runner = cli_runner(app)
    for args in (["vhs", "add", "bench", "--name", "vhs Bench", "--onboarded"],
                 ["clients", "add", "bench", "--secret", SECRET, "--redirect-uri", CALLBACK,
                  "--grant", "authorization_code", "--grant", "refresh_token", "--grant",
                  "client_credentials", "--scope", "openid email profile offline_access",
                  "--first-party"]):
        assert runner.invoke(args=args).exit_code == 0
    assert runner.invoke(args=["accounts", "add", "--vhs", "bench", "--email",
                               "test.user@example.org", "--password-stdin"],
                         input=PASSWORD + "\n").exit_code == 0
    for n in range(vhs_count - 1):
        runner.invoke(args=["vhs", "add", f"ort-{n}", "--name", f"vhs Ort {n}", "--onboarded"])
    return app


def login(app):
    """One whole code flow; the token response."""
    client = app.test_client()
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    query = {"client_id": "bench", "response_type": "code", "redirect_uri": CALLBACK,
             "scope": "openid email profile offline_access", "state": "s",
             "nonce": secrets.token_urlsafe(8),
             "code_challenge": challenge, "code_challenge_method": "S256"}
    answer = client.get("/authorize", query_string=query)
    login_url = answer.headers["Location"]
    token = csrf_token(client, login_url)
    answer = client.post("/login", data={"csrf_token": token, "tenant": "bench",
                                         "email": "test.user@example.org",
                                         "password": PASSWORD,
                                         "next": parse_qs(urlsplit(login_url).query)["next"][0]})
    answer = client.get(answer.headers["Location"])
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    return client.post("/token", headers=BASIC, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": verifier}).get_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="cc",
                        choices=["cc", "refresh", "userinfo", "login", "login-page"])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--vhs", type=int, default=1)
    parser.add_argument("--html", default="")
    options = parser.parse_args()
    app = setup(options.vhs)
    client = app.test_client()
    state = {"refresh": login(app)["refresh_token"]}
    access = login(app)["access_token"]

    def cc():
        assert client.post("/token", headers=BASIC, data={
            "grant_type": "client_credentials", "scope": "openid"}).status_code == 200

    def refresh():
        answer = client.post("/token", headers=BASIC, data={
            "grant_type": "refresh_token", "refresh_token": state["refresh"]})
        state["refresh"] = answer.get_json()["refresh_token"]

    def userinfo():
        assert client.get("/userinfo", headers={"Authorization": f"Bearer {access}"}
                          ).status_code == 200

    def login_page():
        page = client.get("/login")
        assert page.status_code == 200 and re.search(b"tenant", page.data)

    action = {"cc": cc, "refresh": refresh, "userinfo": userinfo, "login": lambda: login(app),
              "login-page": login_page}[options.scenario]
    for _ in range(20):
        action()
    profiler = Profiler(interval=0.0002)
    started = time.perf_counter()
    profiler.start()
    for _ in range(options.requests):
        action()
    profiler.stop()
    took = time.perf_counter() - started
    print(f"{options.scenario}: {options.requests} in {took:.2f} s = "
          f"{took / options.requests * 1000:.2f} ms each (profiled, so slower than served)")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if options.html:
        with open(options.html, "w") as out:
            out.write(profiler.output_html())


if __name__ == "__main__":
    main()
