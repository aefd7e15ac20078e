"""Redis is optional at run time: a real redis-server, stopped, frozen and started again
in the middle of a run. Sign-in, refresh, client_credentials and "Passwort vergessen" go on
working, the throttle still slows a guesser (counting in the process), /readyz says
degraded, the outage is logged once and its end once, and counting moves back to Redis."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time

import pytest
import redis
import requests

from ..helpers import (
    PASSWORD,
    Browser,
    LiveServer,
    RelyingParty,
    add_client,
    free_port,
    post_login,
    require_service,
    sign_in,
    submit,
)

ANNA = "anna.muster@vhs-straubing.de"
WRONG = "ganz-falsches-Passwort"


class RedisServer:
    """A redis-server of this test's own on a free loopback port (nothing kept on disk)."""

    def __init__(self, folder):
        binary = shutil.which("redis-server")
        if binary is None:
            require_service("redis-server", FileNotFoundError("redis-server is not installed"))
        self.port, self.folder, self.binary = free_port(), folder, binary
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_timeout=1).ping()
                return
            except redis.RedisError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
            self.process.wait(10)

    def keys(self) -> list[bytes]:
        return redis.Redis.from_url(self.url, socket_timeout=1).keys("*")


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_with_redis(make_app, redis_server):
    live = LiveServer(make_app, REDIS_URL=redis_server.url,
                      THROTTLE_ADDRESS_IP="5 per minute; 10 per 15 minutes")
    live.cli("vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    live.cli("accounts", "add", "--vhs", "straubing", "--email", ANNA, "--password-stdin",
             input=PASSWORD + "\n")
    yield live
    live.stop()


def test_with_redis_stopped_nothing_fails_and_guessing_is_still_slowed(
        live_with_redis, redis_server, caplog):
    live, counters = live_with_redis, live_with_redis.app.extensions["idp.counters"]
    counters.retry_seconds = 0.5  # try Redis again sooner than production's 5 s
    secret = add_client(live, "vhskoop", "--first-party", "--grant", "client_credentials")
    rp = RelyingParty(live.url, "vhskoop", secret)
    tokens = rp.fetch_token(sign_in(live, Browser(live.url), rp))
    client = live.app.test_client()
    assert post_login(client, password=WRONG).status_code == 401
    assert redis_server.keys(), "the failure was counted in Redis"
    redis_server.stop()

    with caplog.at_level(logging.INFO, logger="idp"):
        assert post_login(client).status_code == 303  # the right password
        assert rp.refresh(tokens["refresh_token"])["access_token"]
        granted = requests.post(rp.metadata["token_endpoint"], timeout=10,
                                data={"grant_type": "client_credentials"},
                                auth=("vhskoop", secret))
        assert granted.status_code == 200, granted.text
        refused = requests.post(rp.metadata["token_endpoint"], timeout=10,
                                data={"grant_type": "client_credentials"},
                                auth=("vhskoop", "a-wrong-secret-of-enough-length"))
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
        assert submit(client, "/passwort-vergessen", ANNA).status_code == 200
        answers = [post_login(client, password=f"{WRONG}-{n}", ip="203.0.113.9").status_code
                   for n in range(12)]
        ready = client.get("/readyz")
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}, answers
    assert ready.status_code == 200 and ready.get_json()["status"] == "degraded"
    assert ready.get_json()["checks"]["redis"].startswith("degraded")
    gone = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(gone) == 1 and gone[0].levelno == logging.ERROR
    assert not any(r.exc_info for r in caplog.records)  # no tracebacks
    assert not any(r.levelno >= logging.ERROR and "unexpected" in r.getMessage()
                   for r in caplog.records)

    redis_server.start()  # back, empty: counting moves there again
    time.sleep(counters.retry_seconds)
    with caplog.at_level(logging.INFO, logger="idp"):
        assert post_login(client, password=WRONG, ip="198.51.100.3").status_code == 401
    assert redis_server.keys(), "counting is back in Redis"
    assert sum("Redis back" in r.getMessage() for r in caplog.records) == 1
    assert client.get("/readyz").get_json()["status"] == "ready"


def test_a_frozen_redis_costs_a_request_at_most_its_short_timeout(live_with_redis,
                                                                   redis_server):
    client = live_with_redis.app.test_client()
    assert post_login(client).status_code == 303
    os.kill(redis_server.process.pid, signal.SIGSTOP)  # accepts, answers nothing
    try:
        started = time.monotonic()
        assert post_login(client).status_code == 303
        first = time.monotonic() - started
        started = time.monotonic()
        assert post_login(client, password=WRONG).status_code == 401
        assert post_login(client).status_code == 303
        later = (time.monotonic() - started) / 2
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    # One try meets the 0.5 s timeout; until the next try is due, no request waits on Redis.
    assert first < 3 and later < first, (first, later)


def test_counting_in_memory_forgets_windows_that_are_over():
    """limits' own memory store keeps an empty list for every key it ever counted (every
    client address that ever failed a sign-in): a worker without Redis would grow
    forever. Ours drops them once their window is over."""
    from limits import parse
    from limits.strategies import MovingWindowRateLimiter

    from idp.counters import Counters

    counters = Counters("idp+memory://")
    limiter, second = MovingWindowRateLimiter(counters), parse("5 per second")
    for number in range(5000):
        limiter.hit(second, "ip", f"198.51.{number // 256}.{number % 256}")
    assert len(counters.memory.events) == 5000
    time.sleep(1.2)  # every window is over
    counters.memory.SWEEP_SECONDS = 0  # the next count sweeps (production: once a minute)
    limiter.hit(second, "ip", "203.0.113.1")
    assert len(counters.memory.events) == 1
    for _ in range(4):
        assert limiter.hit(second, "ip", "203.0.113.1")
    assert not limiter.test(second, "ip", "203.0.113.1")  # counting goes on: five used
