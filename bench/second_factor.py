"""The second step: what it costs, and how far the TOTP throttle lets a guesser get.

    .venv/bin/python bench/second_factor.py [--logins 200] [--runs 3]

In one process (Flask's test client, SQLite in a temporary folder, the default Argon2id
parameters):
1. Cost: a person with an authenticator app signs in ``--logins`` times: the password
   (the first step, Argon2id: the baseline of the same run), then the app's code (the
   second step's page and its form); and as often with a recovery code. Each sign-in
   uses the next 30-second step (the provider's clock is moved on, so no code is refused
   as spent). Median, p10 and p90 per step and
   the ratio of medians against the password step, for each of ``--runs`` runs.
2. Throttle: someone who knows the password but not the app tries codes from new
   browsers, with the default limits (IDP_THROTTLE_CODE_ATTEMPT 5 per login attempt,
   IDP_THROTTLE_CODE_ACCOUNT 20 per hour and 100 per day per account). Counted: the
   wrong codes checked before the first 429, the codes one login attempt gets, and
   whether the owner's browser (which signed in before) still signs in at once. From
   these, the chance of a guess: a six-digit code has 10^6 values and three steps are
   valid at a time (the day's ceiling is from the configuration, not waited for).
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import pyotp
from inprocess import csrf_token, fresh_app

from idp import db, factors
from idp.cli import runner as cli_runner
from idp.models import Account

PASSWORD = "Zweiter-Schritt-Passwort-2026"
DAILY = 100  # IDP_THROTTLE_CODE_ACCOUNT's day ceiling, by default
ADDRESS = "app@vhs-t.de"


def _setup(app) -> str:
    runner = cli_runner(app)
    runner.invoke(args=["vhs", "add", "t", "--name", "vhs T", "--onboarded"])
    runner.invoke(args=["accounts", "add", "--vhs", "t", "--email", ADDRESS,
                        "--password-stdin"], input=PASSWORD + "\n")
    with app.app_context():
        account = db.session().query(Account).one()
        key = factors.begin_totp(account)
        factors.confirm_totp(account, pyotp.TOTP(key).generate_otp(factors.now() // 30 - 1),
                             announce=False)
        db.session().commit()
    return key


def _recovery(app) -> str:
    with app.app_context():
        code = factors.new_recovery_codes(db.session().query(Account).one())[0]
        db.session().commit()
    return code


def _login(client, csrf: str):
    return client.post("/login", data={"csrf_token": csrf, "tenant": "t", "email": ADDRESS,
                                       "password": PASSWORD})


def _second(client, method: str, code: str):
    page = client.get("/login/zweiter-schritt").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post("/login/zweiter-schritt", data={"csrf_token": token, "method": method,
                                                       "code": code})


def cost(logins: int) -> dict[str, list[float]]:
    """Seconds per step, over ``logins`` sign-ins with each kind of second factor."""
    app = fresh_app()
    key = _setup(app)
    start = time.time() + 60
    times: dict[str, list[float]] = {"password (first step)": [], "TOTP code": [],
                                     "recovery code": []}
    for index in range(logins):
        for method in ("totp", "recovery"):
            moment = start + 30 * (2 * index + (method == "recovery"))
            app.config["CLOCK"] = lambda moment=moment: moment
            code = pyotp.TOTP(key).generate_otp(int(moment) // 30) if method == "totp" \
                else _recovery(app)
            client = app.test_client()
            csrf = csrf_token(client, "/login")
            began = time.perf_counter()
            first = _login(client, csrf)
            between = time.perf_counter()
            done = _second(client, method, code)
            ended = time.perf_counter()
            assert first.headers["Location"] == "/login/zweiter-schritt", first.status_code
            assert done.status_code == 303, done.get_data(as_text=True)[:300]
            if method == "totp":
                times["password (first step)"].append(between - began)
            times["TOTP code" if method == "totp" else "recovery code"].append(ended - between)
    return times


def throttle() -> dict[str, object]:
    """What a guesser who knows the password gets, with the default code limits."""
    app = fresh_app()  # the default code limits (inprocess lifts the password ones only)
    key = _setup(app)
    owner = app.test_client()
    _login(owner, csrf_token(owner, "/login"))
    assert _second(owner, "totp", pyotp.TOTP(key).now()).status_code == 303  # device cookie
    checked, per_attempt, first_429 = 0, [], None
    while first_429 is None and checked < 1000:
        guesser = app.test_client()  # a new browser: no device cookie
        _login(guesser, csrf_token(guesser, "/login"))
        tries = 0
        while True:
            answer = _second(guesser, "totp", "000000")
            if answer.status_code == 429:
                first_429 = int(answer.headers["Retry-After"])
                break
            checked, tries = checked + 1, tries + 1
            if answer.status_code == 303:  # the attempt is over: the password again
                break
        per_attempt.append(tries)
    owner.post("/end_session/confirm", data={"csrf_token": csrf_token(owner, "/")})
    began = time.perf_counter()
    _login(owner, csrf_token(owner, "/login"))
    later = factors.now() // 30 + 1
    owner_ok = _second(owner, "totp", pyotp.TOTP(key).generate_otp(later)).status_code == 303
    return {"checked": checked, "per_attempt": per_attempt, "retry_after": first_429,
            "owner_ok": owner_ok, "owner_seconds": time.perf_counter() - began}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for run in range(1, args.runs + 1):
        times = cost(args.logins)
        baseline = statistics.median(times["password (first step)"])
        print(f"run {run}: {args.logins} sign-ins per kind")
        for kind, values in times.items():
            deciles = statistics.quantiles(values, n=10)
            median = statistics.median(values)
            print(f"  {kind:22s} median {median * 1000:7.2f} ms  p10 {deciles[0] * 1000:7.2f}"
                  f"  p90 {deciles[-1] * 1000:7.2f}  / password {median / baseline:5.2f}")
    found = throttle()
    per_hour = found["checked"]
    chance = 3 / 10**6
    per_day = min(per_hour * 24, DAILY)
    print(f"throttle: {per_hour} wrong codes checked per account before the first 429 "
          f"(Retry-After {found['retry_after']} s); per login attempt "
          f"{sorted(set(t for t in found['per_attempt'] if t))} codes, then the password again")
    print(f"  a guess hits with p = 3/10^6; {per_hour} an hour and {per_day} a day: "
          f"p <= {per_hour * chance:.1e} an hour, {1 - (1 - chance) ** per_day:.3%} a day, "
          f"{1 - (1 - chance) ** (per_day * 365):.1%} a year of guessing non-stop (and a mail "
          f"to the owner every day)")
    print(f"  the owner's browser meanwhile: signed in {'at once' if found['owner_ok'] else 'NOT'}"
          f" ({found['owner_seconds'] * 1000:.0f} ms for both steps)")


if __name__ == "__main__":
    main()
