"""How long a request may wait on the database, and how many may wait at once.

A database that hangs (stopped, a stuck network, a saturated server) keeps TCP
connections open and answers nothing. Without bounds every thread of a worker would end up
waiting on it, and discovery, JWKS, /healthz and the login page, which need no database,
would wait behind them. So:

- ``Turns``: a request takes a turn with its first query (IDP_DB_CONCURRENT_REQUESTS per
  worker, below the server's threads) and gives it back when its app context ends. One
  that finds no free turn waits for one, unless the database hangs: an outage is
  declared, or every turn is held by a request that has been waiting on the database for
  more than ``STUCK_SECONDS`` (0.5) and the database has not answered, within
  ``PROBE_SECONDS`` (0.25), a ``SELECT 1`` that a thread of its own asks then. Then it is
  ``Busy`` at once (a 503), and its thread is free again. The question tells a hang from
  a database that is merely slow to commit (a checkpoint, a busy disk): that one answers
  it at once, and the request waits for its turn; no request thread waits for the
  answer.
- ``Turn.budget``: every wait of one request on PostgreSQL (for its turn, a connection,
  each answer, the final rollback) draws on one budget of IDP_DB_TIMEOUT_SECONDS, so a
  request never waits longer than that in all: a ping that times out followed by a
  reconnect does not wait twice.
- ``DeadlineConnection``: psycopg's connection whose every wait ends in time, also
  outside requests (commands, the mail worker: each wait on its own).

Commands and the mail worker take no turns: they run alone in their thread.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import psycopg
from flask import has_request_context
from sqlalchemy import Engine, event, exc, text

IDLE_PING_SECONDS = 1.0
SHORTEST_CONNECT = 2  # libpq's shortest connect timeout, in whole seconds: with less than a
# second of the budget left a request does not try, with less than 2 s it may overrun by 1 s


class Busy(Exception):
    """No turn for this request: every turn is held by requests stuck waiting on the
    database (or it is declared gone), or none came free in time."""


@dataclass(eq=False)
class Turn:
    """One request's turn at the database: how long its waits may still last in all, and
    since when it waits now (None: it is not waiting)."""

    budget: float
    waiting_since: float | None = None

    @contextlib.contextmanager
    def waiting(self, longest: float) -> Iterator[float]:
        """A wait on the database; yields how long it may last (``longest`` at most)."""
        self.waiting_since = started = time.monotonic()
        try:
            yield min(longest, self.budget)
        finally:
            self.waiting_since = None
            self.budget -= time.monotonic() - started


_TURN: ContextVar[Turn | None] = ContextVar("idp_db_turn", default=None)


class Turns:
    """The turns of one worker (one app)."""

    STUCK_SECONDS = 0.5
    PROBE_SECONDS = 0.25
    POLL_SECONDS = 0.02

    def __init__(self, count: int, timeout: float, outage, engine: Engine):
        self.count, self.timeout, self.outage = count, float(timeout), outage
        self.engine = engine
        self._free = threading.Semaphore(count)
        self._lock = threading.Lock()
        self._held: list[Turn] = []
        self._asking = False  # a question is out (``_ask``)
        self._asked_at = self._answered_at = -1e9  # when we asked, when it last answered

    def take(self) -> Turn:
        """This context's turn, its budget less the wait for it; Busy when there is none."""
        started = time.monotonic()
        acquired = self._free.acquire(blocking=False)
        while not acquired:
            waited = time.monotonic() - started
            if self.outage.since is not None or waited >= self.timeout or self._hung():
                raise Busy(f"no turn at the database after {waited:.2f} s")
            acquired = self._free.acquire(timeout=self.POLL_SECONDS)
        turn = Turn(self.timeout - (time.monotonic() - started))
        with self._lock:
            self._held.append(turn)
        _TURN.set(turn)
        return turn

    def give_back(self, turn: Turn) -> None:
        """The request is done with the database."""
        _TURN.set(None)
        with self._lock:
            self._held.remove(turn)
        self._free.release()

    def _hung(self) -> bool:
        """Every turn is stuck, and the database leaves a question of ours unanswered (or
        failed the last one, asked less than STUCK_SECONDS ago)."""
        if not self._stuck():
            return False
        moment = time.monotonic()
        with self._lock:
            if self._asking:
                return moment - self._asked_at > self.PROBE_SECONDS
            if self._answered_at >= self._asked_at and \
                    moment - self._answered_at <= self.STUCK_SECONDS:
                return False  # it answered just now: slow, not hung
            if moment - self._asked_at <= self.STUCK_SECONDS:
                return True  # the last question failed
            self._asking, self._asked_at = True, moment
        threading.Thread(target=self._ask, daemon=True).start()
        return False

    def _ask(self) -> None:
        """``SELECT 1`` on a pooled connection, in a thread of its own (no request waits)."""
        answered = False
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            answered = True
        except (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError,
                exc.TimeoutError):
            pass  # unanswered in the connection's own time (IDP_DB_TIMEOUT_SECONDS)
        finally:
            with self._lock:
                self._asking = False
                if answered:
                    self._answered_at = time.monotonic()

    def _stuck(self) -> bool:
        moment = time.monotonic()
        with self._lock:
            return len(self._held) >= self.count and all(
                turn.waiting_since is not None
                and moment - turn.waiting_since > self.STUCK_SECONDS for turn in self._held)


def needed() -> bool:
    """Whether a database session made now must take a turn: it serves a request of
    Flask's and holds none yet."""
    return _TURN.get() is None and has_request_context()


@contextlib.contextmanager
def holding(turns: Turns) -> Iterator[Turn]:
    """A turn for what runs inside, given back after it (the userinfo fast path: its
    fallback to Flask goes on with the same turn and what is left of its budget)."""
    turn = turns.take()
    try:
        yield turn
    finally:
        turns.give_back(turn)


class DeadlineConnection(psycopg.Connection):
    """A psycopg connection whose every wait for the server ends after ``answer_timeout``
    seconds, and within a request after what is left of the request's budget; the
    connection is then closed (the pool drops it) and the caller gets an
    OperationalError, which the pages and endpoints answer with 503."""

    answer_timeout = 5.0

    def wait(self, gen, interval=0.1, timeout=None):
        longest, turn = timeout or self.answer_timeout, _TURN.get()
        if turn is None:
            return self._wait(gen, interval, longest)
        if turn.budget <= 0:
            self.close()
            raise psycopg.OperationalError("the request's time for the database is used up")
        with turn.waiting(longest) as allowed:
            return self._wait(gen, interval, allowed)

    def _wait(self, gen, interval: float, timeout: float):
        try:
            return super().wait(gen, interval=interval, timeout=timeout)
        except psycopg.errors._WaitTimeout:
            self.close()
            raise psycopg.OperationalError(
                f"the database did not answer within {timeout:.1f} s") from None


def _connect(timeout: int, _dialect, _record, cargs, cparams):
    turn = _TURN.get()
    if turn is None:
        connection = DeadlineConnection.connect(*cargs, **cparams)
    elif turn.budget < 1:
        raise psycopg.OperationalError("no time left to connect to the database")
    else:
        with turn.waiting(timeout) as allowed:
            connection = DeadlineConnection.connect(
                *cargs, **{**cparams, "connect_timeout": max(SHORTEST_CONNECT, int(allowed))})
    connection.answer_timeout = float(timeout)
    return connection


def _mark_used(_dbapi_connection, record, *_rest) -> None:
    record.info["idp_used"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """A pooled connection unused for a while may have been cut (a database restart, a
    firewall): ask it first; a dead one is replaced (DisconnectionError makes the pool
    take a new connection, within what is left of the request's budget)."""
    if time.monotonic() - record.info.get("idp_used", 0.0) <= IDLE_PING_SECONDS:
        return
    try:
        dbapi_connection.execute("SELECT 1")
        dbapi_connection.rollback()
    except psycopg.Error:
        raise exc.DisconnectionError("the pooled connection is gone") from None


def bound(engine: Engine, timeout: int) -> None:
    """Make ``engine`` (PostgreSQL) connect through DeadlineConnection and ping a pooled
    connection that lay unused."""
    event.listen(engine, "do_connect",
                 lambda *args: _connect(timeout, *args))
    event.listen(engine, "connect", _mark_used)
    event.listen(engine, "checkin", _mark_used)
    event.listen(engine, "checkout", _ping_if_idle)
