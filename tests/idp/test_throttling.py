"""Throttling that stops guessing and never the owner: only failures count, per IP, per
(address, IP) and per account across IPs, with the device cookie and "Passwort vergessen"
as the owner's ways through; the same for known and unknown addresses."""

from __future__ import annotations

import re
import time

import pytest

from idp.cli import runner as cli_runner
from idp.web.throttle import claim_tag

from ..helpers import PASSWORD, RelyingParty, add_client, post_login, run, sign_in, submit

ANNA = "anna.muster@vhs-straubing.de"
WRONG = "ganz-falsches-Passwort"


def throttled_app(make_app, tenant_runner, **limits):
    app = make_app(**limits)
    runner = tenant_runner(app)
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    run(runner, "accounts", "add", "--vhs", "straubing", "--email", ANNA, "--password-stdin",
        input=PASSWORD + "\n")
    return app


@pytest.fixture
def new_app(make_app):
    return lambda **limits: throttled_app(make_app, cli_runner, **limits)


def neutral(response) -> tuple:
    """What a client sees, without what differs on purpose (token, nonce, the address)."""
    body = re.sub(r'name="csrf_token" type="hidden" value="[^"]*"|nonce="[^"]*"|nonce-[\w-]+',
                  "", response.get_data(as_text=True))
    body = body.replace(ANNA, "ADDRESS").replace("niemand@vhs-straubing.de", "ADDRESS")
    headers = sorted((k, v) for k, v in response.headers.items()
                     if k not in ("Set-Cookie", "Content-Security-Policy", "Content-Length",
                                  "X-Request-Id"))
    return response.status_code, body, headers


def test_a_hundred_correct_sign_ins_are_never_throttled(new_app):
    client = new_app().test_client()
    assert {post_login(client).status_code for _ in range(100)} == {303}


def test_failures_per_address_and_ip_wait_longer_the_same_for_unknown_addresses(new_app):
    client = new_app(THROTTLE_ADDRESS_IP="3 per minute; 5 per hour").test_client()
    answers = []
    for email in (ANNA, "niemand@vhs-straubing.de"):
        for _ in range(3):
            assert post_login(client, email=email, password=WRONG).status_code == 401
        blocked = post_login(client, email=email, password=PASSWORD)
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["Retry-After"]) <= 61
        page = blocked.get_data(as_text=True)
        assert "Bitte warten Sie" in page and "Sekunden" in page
        assert f'value="{email}"' in page  # the typed address stays
        assert re.search(r'<option [^>]*selected value="straubing">', page)  # and the VHS
        answers.append(neutral(blocked))
    assert answers[0][0] == answers[1][0] and answers[0][2] == answers[1][2]
    assert re.sub(r"\d+ Sekunden", "N", answers[0][1]) == re.sub(r"\d+ Sekunden", "N",
                                                                 answers[1][1])
    # Another address from the same network address is not affected.
    assert post_login(client, email="dritte@vhs-straubing.de", password=WRONG).status_code \
        == 401


def test_the_owner_gets_in_from_elsewhere_after_an_attack_from_one_address(new_app):
    client = new_app().test_client()
    answers = [post_login(client, password=f"{WRONG}-{n}", ip="203.0.113.7").status_code
               for n in range(100)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
    assert post_login(client, ip="198.51.100.20").status_code == 303


def test_a_distributed_attack_slows_new_browsers_but_not_the_owners(new_app):
    app = new_app(THROTTLE_ADDRESS_IP="2 per minute", THROTTLE_ACCOUNT="10 per day",
                  THROTTLE_SLOWED="1 per minute")
    owner = app.test_client()
    assert post_login(owner, ip="198.51.100.20").status_code == 303  # the device cookie
    attacker = app.test_client()
    for source in range(5):  # each source adds no more than its own allowance, 2
        for _ in range(3):
            post_login(attacker, password=WRONG, ip=f"203.0.113.{source}")
    # Past the ceiling, new browsers share one attempt a minute: the attacker takes it...
    assert post_login(attacker, password=WRONG, ip="203.0.113.99").status_code == 401
    assert post_login(attacker, password=WRONG, ip="203.0.113.98").status_code == 429
    stranger = app.test_client()  # ...and a new browser of the owner's waits too
    slowed = post_login(stranger, ip="192.0.2.1")
    assert slowed.status_code == 429 and "Passwort vergessen" in slowed.get_data(as_text=True)
    assert post_login(owner, ip="198.51.100.20").status_code == 303  # never slowed
    assert submit(stranger, "/passwort-vergessen", ANNA).status_code == 200  # always works
    # The owner's success started the count anew: a new browser gets in again.
    assert post_login(app.test_client(), ip="192.0.2.2").status_code == 303


def test_failures_per_client_address_across_accounts(new_app):
    client = new_app(THROTTLE_IP="3 per minute").test_client()
    for email in ("a@vhs-straubing.de", "b@vhs-straubing.de", "c@vhs-straubing.de"):
        assert post_login(client, email=email, password=WRONG).status_code == 401
    assert post_login(client).status_code == 429
    assert post_login(client, ip="198.51.100.20").status_code == 303


def test_counters_are_shared_through_redis(make_app, redis_url):
    settings = {"REDIS_URL": redis_url, "THROTTLE_IP": "2 per minute"}
    first = throttled_app(make_app, cli_runner, **settings).test_client()
    second = make_app(**settings).test_client()
    assert post_login(first, email="a@vhs-straubing.de", password=WRONG).status_code == 401
    assert post_login(second, email="b@vhs-straubing.de", password=WRONG).status_code == 401
    assert post_login(first).status_code == 429
    assert post_login(second).status_code == 429


@pytest.mark.parametrize("path", ["/passwort-vergessen", "/hilfe/bitten"])
def test_self_service_is_limited_per_address_and_keeps_the_form(new_app, path):
    client = new_app(RATELIMIT_SELFSERVICE_ADDRESS="2 per minute").test_client()
    for _ in range(2):
        assert submit(client, path, "niemand@vhs-straubing.de").status_code == 200
    blocked = submit(client, path, "niemand@vhs-straubing.de")
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) <= 61
    page = blocked.get_data(as_text=True)
    assert 'value="niemand@vhs-straubing.de"' in page and "Bitte warten Sie" in page
    assert submit(client, "/neuer-zugang", "niemand@vhs-straubing.de").status_code == 200


def test_failed_client_authentication_is_limited_not_busy_clients(new_app):
    app = new_app(THROTTLE_CLIENT_IP="5 per minute")
    output = run(cli_runner(app), "clients", "add", "backend", "--grant", "client_credentials")
    secret = output.strip().splitlines()[-1].rsplit(" ", 1)[1]
    client = app.test_client()
    for _ in range(50):  # a busy backend: never slowed
        answer = client.post("/token", data={"grant_type": "client_credentials"},
                             auth=("backend", secret))
        assert answer.status_code == 200
    for _ in range(5):
        answer = client.post("/token", data={"grant_type": "client_credentials"},
                             auth=("backend", "falsch" * 8))
        assert answer.status_code == 401 and answer.json["error"] == "invalid_client"
    limited = client.post("/token", data={"grant_type": "client_credentials"},
                          auth=("backend", secret))
    assert limited.status_code == 429 and limited.json["error"] == "temporarily_unavailable"
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.headers["Cache-Control"] == "no-store"


@pytest.mark.e2e
def test_a_conformance_style_run_signs_one_person_in_a_hundred_times(live, browser):
    """An OpenID conformance run signs its test person in again and again (prompt=login):
    with the default settings, none of it is throttled."""
    secret = add_client(live, "vhskoop", "--first-party")
    started = time.monotonic()
    for _ in range(100):
        rp = RelyingParty(live.url, "vhskoop", secret)
        token = rp.fetch_token(sign_in(live, browser, rp, prompt="login"))
        assert rp.verify_id_token(token)["sub"]
    assert time.monotonic() - started < 120


def test_a_claim_names_the_vhs_and_the_typed_address_not_an_account(app):
    """What the counters and the device cookie count by: a keyed tag of (VHS, address),
    made alike whether an account has them or not, and never the address itself."""
    with app.app_context():
        anna = claim_tag("straubing", "anna.muster@vhs-straubing.de")
        nobody = claim_tag("straubing", "niemand@vhs-straubing.de")
        assert anna == claim_tag("straubing", "anna.muster@vhs-straubing.de")
        assert anna != claim_tag("passau", "anna.muster@vhs-straubing.de") and anna != nobody
        assert len(anna) == len(nobody) and "vhs-straubing" not in anna + nobody
