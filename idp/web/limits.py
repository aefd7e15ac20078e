"""Request limits (Flask-Limiter) for "Neuer Zugang", "Passwort vergessen" and "Meine VHS
um Hilfe bitten": each may ask the Verwaltungsprogramm and send a mail, so every request
counts, per client IP and per (VHS, typed address). Sign-ins are throttled by their
failures (``idp.web.throttle``).

Counters live in Redis when IDP_REDIS_URL is set (shared by every instance), in memory
otherwise or while Redis cannot be reached (``idp.counters``); the throttle counts in the
same store. The per-address key is an HMAC of VHS and cleaned address, so the counter
store holds no addresses; unknown addresses are limited exactly like known ones.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from adapters.address import clean

from .. import counters
from .throttle import claim_tag

SELF_SERVICE = ("access.new_access_submit", "access.forgot_password_submit",
                "access.ask_help_submit")
HELP_REQUEST = "help_request.send"


def _address_key() -> str:
    vhs = request.form.get("tenant", "")[:63]
    return "address:" + claim_tag(vhs, clean(request.form.get("email", "")[:1000]).value)


def retry_after() -> int:
    """Seconds until the limit that refused this request lets one through again."""
    limit = current_app.extensions["idp.limiter"].current_limit
    return max(1, math.ceil(limit.reset_at - time.time())) if limit else 60


def init_app(app: Flask) -> None:
    """Limit the self-service POSTs. The store of the counters is kept for the throttle
    (``idp.counters``)."""
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=counters.uri(app.config["REDIS_URL"]),
        strategy="moving-window",
        key_prefix="idp",
    )
    for endpoint in SELF_SERVICE:
        view = app.view_functions[endpoint]
        view = limiter.limit(app.config["RATELIMIT_SELFSERVICE_IP"],
                             key_func=get_remote_address, scope=endpoint)(view)
        view = limiter.limit(app.config["RATELIMIT_SELFSERVICE_ADDRESS"],
                             key_func=_address_key, scope=endpoint)(view)
        app.view_functions[endpoint] = view
    # The decorated views check their own limits. Flask-Limiter's hook for default limits
    # (there are none) would walk its machinery on every request: 0.15 ms of each
    # userinfo or token request.
    view = app.view_functions[HELP_REQUEST]  # a proven mailbox: limited by network only
    app.view_functions[HELP_REQUEST] = limiter.limit(
        app.config["RATELIMIT_SELFSERVICE_IP"], key_func=get_remote_address,
        scope=HELP_REQUEST)(view)
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.extensions["idp.limiter"] = limiter
    app.extensions["idp.counters"] = limiter.storage
