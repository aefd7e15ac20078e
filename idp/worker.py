"""The worker: deliveries in one loop, the work that asks the Verwaltungsprogramme in
another, so that a slow or hung program never holds up a mail or a logout.

- Deliveries (``deliver_round``): mails from the outbox, back-channel logout notices,
  the services' security events (``idp.signals``, pushed in order per stream) and the
  administrators' daily digest (``idp.digest``). The outbox claims and marks every
  row in short transactions of its own (``idp.outbox``).
- Program work (``program_round``): the re-checks of open help requests (``idp.help``)
  and the lifecycle pass (``idp.lifecycle``), each VHS's pass in a thread of a small pool;
  a VHS whose pass still runs (its program hangs until the adapter's timeout) is left out
  of the next rounds until it returns, and the other VHS go on. Each VHS's pass is leased
  in the database, so with several workers each account is asked once per period.

``vhskoop-idp mail-worker`` runs both (one or more per installation); the development
server of the demo runs them in threads.
"""

from __future__ import annotations

import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app
from sqlalchemy import select

from . import backchannel, db, digest, help, lifecycle, mail, signals
from .models import Vhs

DELIVERIES = (("mails", mail.deliver_due), ("logouts", backchannel.deliver_due),
              ("security events", signals.deliver_due), ("digests", digest.due))
PROGRAM_THREADS = 4  # VHS passes at once in one worker


def deliver_round() -> dict[str, dict[str, int]]:
    """Deliver what is due once; the counts per kind of delivery, also logged."""
    counts = {name: deliver() for name, deliver in DELIVERIES}
    if any(count for kind in counts.values() for count in kind.values()):
        current_app.logger.info("delivery round: %s", summary(counts))
    return counts


def summary(counts: dict[str, dict[str, int]]) -> str:
    """``mails: 2 delivered, 1 retried; logouts: ...``"""
    return "; ".join(f"{name}: " + ", ".join(f"{n} {state}" for state, n in kind.items())
                     for name, kind in counts.items())


def failed(counts: dict[str, dict[str, int]]) -> bool:
    """Whether any delivery of the round failed (to be retried, or given up)."""
    return any(kind.get("retried") or kind.get("failed") for kind in counts.values())


def run(app: Flask, interval: float, stop: threading.Event) -> None:
    """Deliver due mails and back-channel logouts every ``interval`` s until ``stop``."""
    while not stop.is_set():
        _guarded(app, "delivery round", deliver_round)
        stop.wait(interval)


def _guarded(app: Flask, what: str, work) -> None:
    """``work()`` in an app context of its own; a worker outlives whatever it runs into."""
    with app.app_context():
        try:
            work()
            db.outage().answered()
        except db.UNAVAILABLE as error:  # logged once per outage, not every round
            db.discard()
            db.outage().failed(error)
        except Exception:
            db.discard()
            app.logger.exception("%s failed", what)


class ProgramWork:
    """The program loop of one worker: help re-checks, and each VHS's lifecycle pass in a
    thread of its own (at most PROGRAM_THREADS at once)."""

    def __init__(self, app: Flask, interval: float, threads: int = PROGRAM_THREADS):
        self.app, self.interval = app, interval
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="program")
        self.running: set[int] = set()
        self.lock = threading.Lock()

    def round(self) -> None:
        """Start the pass of every VHS with a program that is not still running here."""
        _guarded(self.app, "help re-check round", help.recheck_due)
        places: list[int] = []
        _guarded(self.app, "lifecycle round", lambda: places.extend(db.session().scalars(
            select(Vhs.id).where(Vhs.adapter.is_not(None)).order_by(Vhs.id))))
        for vhs_id in places:
            with self.lock:
                if vhs_id in self.running:
                    continue
                self.running.add(vhs_id)
            self.pool.submit(self._pass, vhs_id)

    def _pass(self, vhs_id: int) -> None:
        try:
            _guarded(self.app, f"lifecycle pass of VHS {vhs_id}", lambda: _logged(
                lifecycle.round_at(vhs_id, self.holder, self.interval)))
        finally:
            with self.lock:
                self.running.discard(vhs_id)

    def run(self, stop: threading.Event) -> None:
        """A round every ``interval`` s until ``stop``; then wait for the passes running."""
        while not stop.is_set():
            self.round()
            stop.wait(self.interval)
        self.pool.shutdown(wait=True)


def _logged(done: lifecycle.Pass | None) -> None:
    if done is not None and (done.checked or done.closed or done.deleted or done.braked):
        current_app.logger.info("lifecycle %s", done.line())


def start_in_background(app: Flask, interval: float = 2.0,
                        program_interval: float | None = None) -> threading.Event:
    """The development server's own worker threads (deliveries, program work); set the
    returned event to stop them."""
    stop = threading.Event()
    threading.Thread(target=run, args=(app, interval, stop), daemon=True).start()
    work = ProgramWork(app, program_interval or interval)
    threading.Thread(target=work.run, args=(stop,), daemon=True).start()
    return stop
