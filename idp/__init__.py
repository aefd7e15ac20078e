"""vhskoop-idp: the OpenID Connect provider of the vhsKOOP cooperation portal."""

from __future__ import annotations

import os

from flask import Flask


def create_app(overrides: dict | None = None) -> Flask:
    """Build the provider: config -> db -> keys -> eligibility -> oauth -> pages -> cli."""
    from . import api, cli, config, db, demo, eligibility, i18n, limits, oauth, portals
    from . import protocol, signing, upstream, views

    app = Flask(__name__, instance_path=os.environ.get("IDP_INSTANCE_PATH") or None)
    config.init_app(app, overrides)
    db.init_app(app)
    signing.init_app(app)
    eligibility.init_app(app)
    portals.init_app(app)
    upstream.init_app(app)
    oauth.init_app(app)
    protocol.init_app(app)
    api.init_app(app)
    i18n.init_app(app)
    views.init_app(app)
    limits.init_app(app)
    demo.init_app(app)
    cli.init_app(app)
    return app
