"""Where the throttle's and the rate limits' counters live: Redis, and the process's own
memory while Redis cannot be reached.

Redis only holds counters that may be lost, so it must never cost a sign-in: when a call
to it fails (refused, reset, or no answer within ``REDIS_TIMEOUT_SECONDS``), counting goes
on in memory, so an attacker is still slowed by every instance on its own. The outage is
logged once when it starts and once when it ends; meanwhile one call every
``RETRY_SECONDS`` tries Redis again, and the first that succeeds moves counting back.
What was counted in memory meanwhile stays there (it is not copied to Redis).

Counting in memory (without IDP_REDIS_URL, or during an outage) uses ``Memory``: limits'
MemoryStorage keeps an empty list for every key it ever counted (every client address and
typed address that ever failed), a slow leak in a long-running worker; ``Memory`` drops
the keys whose windows are over, once a minute.

``limits`` finds the class by the scheme of IDP_REDIS_URL with ``idp+`` in front
(``idp+redis://cache:6379/0``, or ``idp+memory://`` without Redis); Flask-Limiter builds
the one instance from that URI, and the throttle counts in the same instance
(``app.extensions["idp.counters"]``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from limits.storage import MemoryStorage, MovingWindowSupport, RedisStorage, Storage
from redis.backoff import NoBackoff
from redis.retry import Retry

PREFIX = "idp+"
REDIS_TIMEOUT_SECONDS = 0.5  # Redis answers in microseconds; a longer wait is a hang
RETRY_SECONDS = 5.0  # while Redis is gone, how often one call tries it again

log = logging.getLogger(__name__)


def uri(redis_url: str) -> str:
    """The storage URI for IDP_REDIS_URL: these counters, in Redis or in memory alone."""
    return PREFIX + (redis_url or "memory://")


class Memory(MemoryStorage):
    """limits' MemoryStorage, but a key whose window is over is dropped (every
    ``SWEEP_SECONDS``, by the next count), not kept forever as an empty list."""

    SWEEP_SECONDS = 60.0

    def __init__(self, uri: str | None = None, **options):
        super().__init__(uri, **options)
        self._swept = time.monotonic()

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        self.sweep()
        return super().acquire_entry(key, limit, expiry, amount)

    def sweep(self, force: bool = False) -> int:
        """Drop the keys all of whose entries have expired; how many."""
        if not force and time.monotonic() - self._swept < self.SWEEP_SECONDS:
            return 0
        self._swept, moment, dropped = time.monotonic(), time.time(), 0
        for key in list(self.events):
            with self.locks[key]:
                entries = self.events.get(key)
                if entries is not None and (not entries or entries[0].expiry <= moment):
                    del self.events[key]
                    dropped += 1
            self.locks.pop(key, None)
        return dropped


class Counters(Storage, MovingWindowSupport):
    """Moving-window counters in Redis, in memory while Redis cannot be reached (or
    always, without Redis)."""

    STORAGE_SCHEME = [PREFIX + scheme for scheme in ("memory", "redis", "rediss",
                                                     "redis+unix")]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        url = uri.removeprefix(PREFIX)
        self.redis = None if url.startswith("memory:") else RedisStorage(
            url, socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS, retry=Retry(NoBackoff(), 0),
            **options)
        self.memory = Memory()
        self._lock = threading.Lock()
        self.down_since: float | None = None  # monotonic time the outage began
        self.retry_seconds = RETRY_SECONDS
        self._next_try = 0.0

    @property
    def degraded(self) -> bool:
        """Whether counting happens in this process only (Redis is gone)."""
        return self.down_since is not None

    def probe(self) -> bool:
        """Ask Redis now (unless the next try is not due yet): whether counting happens
        there (for /readyz; without Redis, True)."""
        self._counted(lambda store: store.get("probe"))
        return not self.degraded

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return ()  # a failure of Redis is handled here, never raised

    def _counted(self, call: Callable[[Storage], object]):
        if self.redis is None or (self.down_since is not None
                                  and time.monotonic() < self._next_try):
            return call(self.memory)
        try:
            result = call(self.redis)
        except self.redis.base_exceptions as error:
            self._gone(error)
            return call(self.memory)
        if self.down_since is not None:
            self._back()
        return result

    def _gone(self, error: Exception) -> None:
        with self._lock:
            first = self.down_since is None
            if first:
                self.down_since = time.monotonic()
            self._next_try = time.monotonic() + self.retry_seconds
        if first:
            log.error("Redis unreachable, counting throttle and rate limits in this process "
                      "until it is back: %s", str(error).splitlines()[0][:200] if str(error)
                      else type(error).__name__)

    def _back(self) -> None:
        with self._lock:
            since, self.down_since = self.down_since, None
        if since is not None:
            log.warning("Redis back after %.0f s; counting there again",
                        time.monotonic() - since)

    # limits' Storage and MovingWindowSupport, each on the store in use.
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._counted(lambda store: store.incr(key, expiry, amount))

    def get(self, key: str) -> int:
        return self._counted(lambda store: store.get(key))

    def get_expiry(self, key: str) -> float:
        return self._counted(lambda store: store.get_expiry(key))

    def check(self) -> bool:
        return True  # counting works, in Redis or in memory

    def reset(self) -> int | None:
        return self._counted(lambda store: store.reset())

    def clear(self, key: str) -> None:
        self.memory.clear(key)  # a success clears what was counted during an outage too
        return self._counted(lambda store: store.clear(key))

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return self._counted(lambda store: store.acquire_entry(key, limit, expiry, amount))

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return self._counted(lambda store: store.get_moving_window(key, limit, expiry))
