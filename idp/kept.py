"""Rows read often and changed rarely, kept per instance for a while: the registered
relying parties (every token request asks for its client) and the list of onboarded VHS
(every login page shows all of them).

A kept value is read again when it is older than its time (IDP_CLIENTS_RELOAD_SECONDS:
a change made by a command or on another instance shows within it), and at once when a
row of its model changed through the ORM in this process (the ``clients`` and ``vhs``
commands, the demo, tests). Nothing absent is kept. While the database cannot answer (gone,
hung, no turn for the request, an outage declared), a value kept before is used on without
waiting: the login page keeps showing the VHS list.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from . import db
from .models import Base

_changes: dict[type, int] = {}


def _count(_mapper, _connection, target) -> None:
    _changes[type(target)] = _changes.get(type(target), 0) + 1


for _moment in ("after_insert", "after_update", "after_delete"):
    event.listen(Base, _moment, _count, propagate=True)


class Kept:
    """Values of one model, by key, each read by its own function and kept for ``seconds``."""

    def __init__(self, model: type, seconds: int):
        self.model = model
        self.seconds = seconds
        self._lock = threading.Lock()
        self._known: dict[Any, tuple[float, int, Any]] = {}

    def get(self, key: Any, read: Callable[[], Any]) -> Any:
        """The value kept for ``key``, or what ``read()`` gives now (kept unless None);
        the value kept before when the database cannot answer now."""
        known, moment = self._known.get(key), time.monotonic()
        changes = _changes.get(self.model, 0)
        if known and moment - known[0] < self.seconds and known[1] == changes:
            return known[2]
        if known and db.outage().since is not None:
            return known[2]  # the database is gone: not even a try (it may hang)
        try:
            value = read()
        except db.UNAVAILABLE:
            if known is None:
                raise
            db.discard()  # the request goes on without the database, or fails anew
            return known[2]
        if value is not None and self.seconds:
            with self._lock:
                self._known[key] = (moment, changes, value)
        return value
