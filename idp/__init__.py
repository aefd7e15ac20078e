"""vhskoop-idp: the OpenID Connect provider of the vhsKOOP cooperation portal.

``create_app`` is the table of contents; ``prepare`` checks what must hold before the
provider serves (the WSGI entry point and ``vhskoop-idp run`` call it).
"""

from __future__ import annotations

import os

from flask import Flask

from .packages import require_own

require_own()

from . import (  # noqa: E402 (after the check above)
    api,
    config,
    db,
    eligibility,
    i18n,
    limits,
    oauth,
    passwords,
    portals,
    protocol,
    signing,
    views,
)


def create_app(overrides: dict | None = None) -> Flask:
    """Build the provider: config -> db -> keys -> connectors -> oauth -> pages -> limits."""
    app = Flask(__name__, instance_path=os.environ.get("IDP_INSTANCE_PATH") or None)
    config.init_app(app, overrides)
    db.init_app(app)
    signing.init_app(app)
    passwords.init_app(app)
    eligibility.init_app(app)
    portals.init_app(app)
    oauth.init_app(app)
    protocol.init_app(app)
    api.init_app(app)
    i18n.init_app(app)
    views.init_app(app)
    limits.init_app(app)
    return app


def prepare(app: Flask) -> None:
    """What must hold before serving: a current schema and a complete keyring.

    Raises db.SchemaBehind or keys.KeyStoreError, each naming what to do.
    """
    db.require_current(app)
    with app.app_context():
        signing.signing(app).keyring()
