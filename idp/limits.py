"""Rate limits (Flask-Limiter): password logins, "Neuer Zugang" and "Passwort vergessen",
each per client address and per (VHS, address).

Counters live in Redis when IDP_REDIS_URL is set (shared by every instance), in memory
otherwise. The per-account key is a digest of VHS and cleaned address, so the counter
store holds no addresses; unknown addresses are limited exactly like known ones.
"""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

from adapters.address import clean

from .models import digest


def _account_key() -> str:
    tenant = request.form.get("tenant", "")[:63]
    address = clean(request.form.get("email", "")[:1000]).value
    return "login-account:" + digest(f"{tenant}|{address}")


def init_app(app: Flask) -> None:
    """Limit the login POST; trust X-Forwarded-* only from the configured proxies."""
    if app.config["PROXIES"]:
        count = app.config["PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=app.config["REDIS_URL"] or "memory://",
        strategy="moving-window",
        key_prefix="idp",
    )
    # Logins, and the self-service forms that ask the Verwaltungsprogramm and send mail.
    for endpoint in ("views.login_submit", "access.new_access_submit",
                     "access.forgot_password_submit"):
        view = app.view_functions[endpoint]
        view = limiter.limit(app.config["RATELIMIT_LOGIN_IP"], key_func=get_remote_address,
                             scope=endpoint)(view)
        view = limiter.limit(app.config["RATELIMIT_LOGIN_ADDRESS"], key_func=_account_key,
                             scope=endpoint)(view)
        app.view_functions[endpoint] = view
    app.extensions["idp.limiter"] = limiter
