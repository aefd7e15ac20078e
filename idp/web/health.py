"""Liveness and readiness for load balancers and orchestrators.

- ``GET /healthz``: the process answers (200, nothing is looked at);
- ``GET /readyz``: the database answers, its schema is at the newest migration, and the
  signing keys are loaded with a current key for every algorithm; 200 with each check's
  result, else 503 naming what failed (the load balancer then sends no traffic here).
  Redis gone is ``degraded``, still 200: the throttle and the rate limits count in the
  process meanwhile (``idp.counters``), and no sign-in fails because of it.
"""

from __future__ import annotations

from flask import Flask, current_app, jsonify

from keys import ALGORITHMS

from .. import db
from ..counters import Counters
from ..signing import KeyStoreError, signing


def healthz():
    """The process is alive."""
    return jsonify(status="ok")


def _database() -> str | None:
    try:
        current, heads = db.revisions(current_app, heads=current_app.extensions["idp.heads"])
    except db.UNAVAILABLE:
        return "unreachable"
    if current != heads:
        return "schema behind (run `vhskoop-idp db upgrade`)"
    return None


def _keys() -> str | None:
    try:
        keyring = signing().keyring()
        for alg in ALGORITHMS:
            keyring.current(alg)
    except (KeyStoreError, OSError, LookupError, ValueError):
        return "not loaded"
    return None


def _redis() -> str | None:
    counters: Counters = current_app.extensions["idp.counters"]
    if counters.redis is None:
        return None  # no Redis configured: counting in memory is the setting
    return "ok" if counters.probe() else "degraded: unreachable, counting in this process"


def readyz():
    """Database reachable, migrations current, keys loaded; 503 otherwise. Redis gone is
    reported as degraded (200)."""
    problems = {name: problem for name, problem in (("database", _database()),
                                                    ("keys", _keys())) if problem}
    checks = {name: problems.get(name, "ok") for name in ("database", "keys")}
    redis = _redis()
    if redis is not None:
        checks["redis"] = redis
    status = "not ready" if problems else "degraded" if redis not in (None, "ok") else "ready"
    response = jsonify(status=status, checks=checks)
    response.status_code = 503 if problems else 200
    return response


def init_app(app: Flask) -> None:
    """Serve /healthz and /readyz; the code's newest migrations are read once."""
    app.extensions["idp.heads"] = db.code_heads()
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
