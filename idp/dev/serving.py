"""Werkzeug's development server, with a request log that keeps URLs' queries out.

Authorization codes, activation and reset links carry their secret in the query string;
Werkzeug's request log prints whole request lines, so here only method, path and status
are logged (in production, gunicorn's access log is off by default; see the
documentation's "Running it for real").
"""

from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler


class QuietRequestHandler(WSGIRequestHandler):
    """Logs ``GET /path 200``, never the query string."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", "").split("?", 1)[0]
        self.log("info", '"%s %s" %s %s', getattr(self, "command", "-"), path[:200], code, size)
