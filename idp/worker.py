"""The delivery worker: mails from the outbox and back-channel logout notices.

``vhskoop-idp mail-worker`` runs it (one or more per installation); the development
server of the demo runs it in a thread. Each round is its own edge: the outbox claims
and marks every row in short transactions of its own (``idp.outbox``).
"""

from __future__ import annotations

import threading

from flask import Flask

from . import backchannel, mail

DELIVERIES = (("mails", mail.deliver_due), ("logouts", backchannel.deliver_due))


def deliver_round() -> dict[str, dict[str, int]]:
    """Deliver what is due once; the counts per kind of delivery."""
    return {name: deliver() for name, deliver in DELIVERIES}


def run(app: Flask, interval: float, stop: threading.Event) -> None:
    """Deliver due mails and back-channel logouts every ``interval`` s until ``stop``."""
    while not stop.is_set():
        with app.app_context():
            for _name, deliver in DELIVERIES:
                try:
                    deliver()
                except Exception:  # a worker must outlive a database hiccup
                    app.logger.exception("worker round failed")
        stop.wait(interval)


def start_in_background(app: Flask, interval: float = 2.0) -> threading.Event:
    """The development server's own sender thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=run, args=(app, interval, stop), daemon=True).start()
    return stop
