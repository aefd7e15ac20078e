"""What the in-process benchmarks share: a fresh provider in a temporary folder."""

from __future__ import annotations

import re
import tempfile

from idp import create_app, db


def fresh_app(**overrides):
    """A migrated provider on SQLite in a temporary folder, rate limits out of the way."""
    folder = tempfile.mkdtemp(prefix="idp-bench-")
    settings = {"ENV": "production", "SECRET_KEY": "t" * 40,
                "DATABASE_URL": f"sqlite:///{folder}/t.sqlite3", "KEYS_DIR": f"{folder}/k",
                "RATELIMIT_LOGIN_IP": "1000000 per minute",
                "RATELIMIT_LOGIN_ADDRESS": "1000000 per minute"}
    app = create_app({**settings, **overrides})
    db.upgrade(app)
    return app


def csrf_token(client, path: str) -> str:
    """The CSRF token of the form on ``path``, for this client's session."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
