"""vhskoop-idp: the OpenID Connect provider of the vhsKOOP cooperation portal.

``create_app`` is the table of contents; ``prepare`` checks what must hold before the
provider serves (the WSGI entry point and ``vhskoop-idp run`` call it).
"""

from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from .packages import require_own

require_own()

from . import (  # noqa: E402 (after the check above)
    clients,
    config,
    db,
    eligibility,
    logs,
    metrics,
    passwords,
    portals,
    signing,
    tenants,
)
from .web import (  # noqa: E402 (after the check above)
    admin,
    api,
    front,
    guard,
    health,
    i18n,
    limits,
    oauth,
    protocol,
    ssf,
    throttle,
    views,
)


def create_app(overrides: dict | None = None) -> Flask:
    """Build the provider: config -> input guard, request ids, metrics -> db, clients ->
    keys -> connectors -> oauth -> pages -> console -> rate limits, throttling -> health;
    discovery and JWKS answered in front of it all."""
    app = Flask(__name__, instance_path=os.environ.get("IDP_INSTANCE_PATH") or None)
    config.init_app(app, overrides)
    guard.init_app(app)
    logs.init_app(app)
    metrics.init_app(app)
    db.init_app(app)
    clients.init_app(app)
    tenants.init_app(app)
    signing.init_app(app)
    passwords.init_app(app)
    eligibility.init_app(app)
    portals.init_app(app)
    oauth.init_app(app)
    protocol.init_app(app)
    api.init_app(app)
    ssf.init_app(app)
    i18n.init_app(app)
    views.init_app(app)
    admin.init_app(app)
    _trust_proxies(app)
    limits.init_app(app)
    throttle.init_app(app)
    health.init_app(app)
    front.init_app(app)
    return app


def _trust_proxies(app: Flask) -> None:
    """X-Forwarded-For/-Proto are believed from IDP_PROXIES reverse proxies and no one
    else: the client address the rate limits, the throttle and the audit trail use."""
    if app.config["PROXIES"]:
        count = app.config["PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)


class StartupError(Exception):
    """The provider cannot start; the message is one line naming the cause and the setting."""


def prepare(app: Flask) -> None:
    """What must hold before serving: a reachable database at the current schema and a
    complete, readable keyring. Raises StartupError."""
    try:
        db.require_current(app)
    except db.SchemaBehind as error:
        raise StartupError(str(error)) from None
    except db.UNAVAILABLE as error:
        raise StartupError(
            f"the database IDP_DATABASE_URL={db.engine(app).url!r} cannot be reached: "
            f"{str(error.orig or error).splitlines()[0]}") from None
    try:
        with app.app_context():
            signing.signing(app).keyring()
    except (signing.KeyStoreError, OSError) as error:
        raise StartupError(f"the key folder IDP_KEYS_DIR={app.config['KEYS_DIR']} cannot be "
                           f"used: {error}") from None


def build(overrides: dict | None = None) -> Flask:
    """``create_app`` and ``prepare`` for a server; StartupError names what is wrong."""
    try:
        app = create_app(overrides)
    except config.ConfigError as error:
        raise StartupError(str(error)) from None
    prepare(app)
    logs.configure(app)
    return app
