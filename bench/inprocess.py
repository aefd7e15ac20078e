"""What the in-process benchmarks share: a fresh provider in a temporary folder."""

from __future__ import annotations

import re
import tempfile

from idp import create_app, db

# One benchmark "person" signs in (or fails to) many times a second from one address.
LIMITS_OFF = ("THROTTLE_IP", "THROTTLE_ADDRESS_IP", "THROTTLE_ACCOUNT", "THROTTLE_SLOWED",
              "THROTTLE_CLIENT_IP", "RATELIMIT_SELFSERVICE_IP",
              "RATELIMIT_SELFSERVICE_ADDRESS")


def fresh_app(**overrides):
    """A migrated provider on SQLite in a temporary folder, rate limits out of the way."""
    folder = tempfile.mkdtemp(prefix="idp-bench-")
    settings = {"ENV": "production", "SECRET_KEY": "t" * 40,
                "DATABASE_URL": f"sqlite:///{folder}/t.sqlite3", "KEYS_DIR": f"{folder}/k",
                **{name: "1000000 per minute" for name in LIMITS_OFF}}
    app = create_app({**settings, **overrides})
    db.upgrade(app)
    return app


def csrf_token(client, path: str) -> str:
    """The CSRF token of the form on ``path``, for this client's session."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
