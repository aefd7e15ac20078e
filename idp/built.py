"""Objects built once per VHS and instance (adapters, portal connectors), rebuilt when the
VHS's settings change (their ``*_changed_at`` stamp), the old one closed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class PerVhs:
    """A thread-safe cache of one kind of object per VHS id."""

    def __init__(self):
        self._lock = threading.Lock()
        self._built: dict[int, tuple[Any, Any]] = {}

    def get(self, vhs_id: int, stamp: Any, build: Callable[[], Any]) -> Any:
        """The object for ``vhs_id`` as of ``stamp``; built (and the old one closed) anew."""
        with self._lock:
            known = self._built.get(vhs_id)
            if known and known[0] == stamp:
                return known[1]
            fresh = build()
            if known:
                known[1].close()
            self._built[vhs_id] = (stamp, fresh)
            return fresh
