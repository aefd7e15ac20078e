"""Throttling that stops guessing and never the owner.

Only *failed* sign-ins count (a person who signs in a hundred times is never slowed):
- per client IP, and per (VHS, typed address, IP): fast limits whose windows grow, so the
  wait grows with the failures (IDP_THROTTLE_IP, IDP_THROTTLE_ADDRESS_IP);
- per (VHS, typed address) from all IPs together: a ceiling for distributed guessing,
  NIST SP 800-63B's 100 consecutive failures (IDP_THROTTLE_ACCOUNT). One source adds at
  most its own per-(address, IP) allowance to it, since its failures beyond that are
  refused before they are checked; only many sources can trip it. A tripped account is
  slowed, not closed: a browser that signed in to it before (the device cookie, after the
  OWASP authentication cheat sheet) is not counted and not slowed, "Passwort vergessen"
  always works, and new browsers get IDP_THROTTLE_SLOWED attempts.
A successful sign-in clears its (address, IP) and account counters. Known and unknown
addresses share the same counters and answers; the keys are HMACs, never addresses.
Wrong second-factor codes (TOTP, recovery codes) have their own counters: per login
attempt (IDP_THROTTLE_CODE_ATTEMPT: 5, then the attempt ends and the password is asked
again) and per account (IDP_THROTTLE_CODE_ACCOUNT: 20 an hour and 100 a day, then the
second step waits), under the same rule: a browser that signed in to the account before is not
counted and never waits. A passkey cannot be guessed; its refusals are not counted.
Failed client authentications at the token, revocation and introspection endpoints are
limited per IP (IDP_THROTTLE_CLIENT_IP), so a relying party's backend that refreshes
hundreds of tokens a second is never slowed.

The counters live in Redis when IDP_REDIS_URL is set (shared by every instance), else in
memory, and in memory while Redis cannot be reached (``idp.counters``); ``limits`` keeps
them with a moving window.
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from limits import RateLimitItem, parse_many
from limits.storage import Storage
from limits.strategies import MovingWindowRateLimiter

from ..audit import address_tag

DEVICE_COOKIE_DAYS = 180
DEVICE_ACCOUNTS = 5  # accounts one browser (a shared office PC) is remembered for


class Throttle:
    """The counters of one installation."""

    def __init__(self, storage: Storage, config: dict):
        self.limiter = MovingWindowRateLimiter(storage)
        self.per_ip = parse_many(config["THROTTLE_IP"])
        self.per_address_ip = parse_many(config["THROTTLE_ADDRESS_IP"])
        self.per_account = parse_many(config["THROTTLE_ACCOUNT"])
        self.slowed = parse_many(config["THROTTLE_SLOWED"])
        self.per_client_ip = parse_many(config["THROTTLE_CLIENT_IP"])
        self.per_code_attempt = parse_many(config["THROTTLE_CODE_ATTEMPT"])
        self.per_code_account = parse_many(config["THROTTLE_CODE_ACCOUNT"])

    def _wait(self, limits: list[RateLimitItem], *key: str) -> int:
        """Seconds until every one of ``limits`` allows one more hit for ``key``; 0: now."""
        wait = 0.0
        for limit in limits:
            if not self.limiter.test(limit, *key):
                reset = self.limiter.get_window_stats(limit, *key).reset_time
                wait = max(wait, reset - time.time())
        return max(1, math.ceil(wait)) if wait else 0

    def _hit(self, limits: list[RateLimitItem], *key: str) -> None:
        for limit in limits:
            self.limiter.hit(limit, *key)

    def _clear(self, limits: list[RateLimitItem], *key: str) -> None:
        for limit in limits:
            self.limiter.clear(limit, *key)

    def sign_in_wait(self, claim: str, ip: str, trusted: bool) -> int:
        """Before checking a password: how long this attempt must wait (0: not at all)."""
        wait = max(self._wait(self.per_ip, "ip", ip),
                   self._wait(self.per_address_ip, "account-ip", claim, ip))
        if not trusted and self._wait(self.per_account, "account", claim):
            wait = max(wait, self._wait(self.slowed, "slowed", claim))
            if not wait:
                self._hit(self.slowed, "slowed", claim)
        return wait

    def sign_in_failed(self, claim: str, ip: str, trusted: bool) -> None:
        """Count a refused sign-in."""
        self._hit(self.per_ip, "ip", ip)
        self._hit(self.per_address_ip, "account-ip", claim, ip)
        if not trusted:
            self._hit(self.per_account, "account", claim)

    def sign_in_succeeded(self, claim: str, ip: str) -> None:
        """A correct password: the consecutive failures start anew."""
        self._clear(self.per_address_ip, "account-ip", claim, ip)
        self._clear(self.per_account, "account", claim)
        self._clear(self.slowed, "slowed", claim)

    def code_wait(self, claim: str, trusted: bool) -> int:
        """Before checking a second-factor code: the account's wait (0 for its browsers)."""
        return 0 if trusted else self._wait(self.per_code_account, "code-account", claim)

    def code_attempt_over(self, attempt: str) -> bool:
        """Whether this login attempt has had all its wrong codes."""
        return bool(self._wait(self.per_code_attempt, "code-attempt", attempt))

    def code_failed(self, claim: str, attempt: str, trusted: bool) -> None:
        """Count a wrong code for the attempt and, from a new browser, the account."""
        self._hit(self.per_code_attempt, "code-attempt", attempt)
        if not trusted:
            self._hit(self.per_code_account, "code-account", claim)

    def code_succeeded(self, claim: str) -> None:
        """A right code: the account's wrong codes start anew."""
        self._clear(self.per_code_account, "code-account", claim)

    def client_wait(self, ip: str) -> int:
        """Before a client authenticates at a protocol endpoint: the wait, if any."""
        return self._wait(self.per_client_ip, "client-ip", ip)

    def client_failed(self, ip: str) -> None:
        """Count a failed client authentication."""
        self._hit(self.per_client_ip, "client-ip", ip)


def throttle() -> Throttle:
    """The app's throttle."""
    return current_app.extensions["idp.web.throttle"]


def claim_tag(vhs_slug: str, address: str) -> str:
    """What a sign-in claims, as the counters and the device cookie name it: the keyed tag
    of the VHS and the typed address, whether an account has them or not (so that unknown
    addresses are counted like known ones)."""
    return address_tag(vhs_slug[:63], address)


def device_cookie_name() -> str:
    """``__Host-idp_device`` behind https."""
    return "__Host-idp_device" if current_app.config["ISSUER"].startswith("https://") \
        else "idp_device"


def _devices() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="idp-device")


def trusted_device(claim: str) -> bool:
    """Whether this browser signed in to the account before (its device cookie says so)."""
    try:
        known = _devices().loads(request.cookies.get(device_cookie_name(), ""))
    except BadSignature:
        return False
    return isinstance(known, dict) and claim in known.get("accounts", []) and \
        time.time() - known.get("at", 0) < DEVICE_COOKIE_DAYS * 86400


def remember_device(response: Response, claim: str) -> None:
    """Let this browser be trusted for the account ``claim`` names from now on."""
    try:
        known = _devices().loads(request.cookies.get(device_cookie_name(), ""))["accounts"]
    except (BadSignature, KeyError, TypeError):
        known = []
    accounts = [claim, *[a for a in known if a != claim and isinstance(a, str)]]
    value = _devices().dumps({"accounts": accounts[:DEVICE_ACCOUNTS], "at": int(time.time())})
    response.set_cookie(device_cookie_name(), value, max_age=DEVICE_COOKIE_DAYS * 86400,
                        path="/", secure=current_app.config["ISSUER"].startswith("https://"),
                        httponly=True, samesite="Lax")


def init_app(app: Flask) -> None:
    """The throttle, counting in the rate limits' store (``idp.web.limits`` made it)."""
    app.extensions["idp.web.throttle"] = Throttle(app.extensions["idp.counters"], app.config)
