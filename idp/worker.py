"""The delivery worker: mails from the outbox, back-channel logout notices, the
re-checks of open help requests (``idp.help``) and the administrators' daily digest
(``idp.digest``).

``vhskoop-idp mail-worker`` runs it (one or more per installation); the development
server of the demo runs it in a thread. Each round is its own edge: the outbox claims
and marks every row in short transactions of its own (``idp.outbox``).
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from . import backchannel, db, digest, help, mail

DELIVERIES = (("mails", mail.deliver_due), ("logouts", backchannel.deliver_due),
              ("help requests", help.recheck_due), ("digests", digest.due))


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
        with app.app_context():
            try:
                deliver_round()
                db.outage().answered()
            except db.UNAVAILABLE as error:  # logged once per outage, not every round
                db.discard()
                db.outage().failed(error)
            except Exception:  # a worker must outlive whatever one round runs into
                db.discard()
                app.logger.exception("delivery round failed")
        stop.wait(interval)


def start_in_background(app: Flask, interval: float = 2.0) -> threading.Event:
    """The development server's own sender thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=run, args=(app, interval, stop), daemon=True).start()
    return stop
