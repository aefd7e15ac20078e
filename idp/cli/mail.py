"""``vhskoop-idp mail-worker``: delivers the outbox and back-channel logouts, and asks the
Verwaltungsprogramme (help re-checks, the lifecycle pass) in a loop of its own."""

from __future__ import annotations

import signal
import sys
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import logs, worker


@click.command("mail-worker")
@click.option("--interval", default=1.0, show_default=True,
              help="Seconds between delivery rounds (a security event waits at most this "
                   "long before it is pushed; a round with nothing due is a few queries).")
@click.option("--program-interval", default=60.0, show_default=True,
              help="Seconds between rounds of program work (help re-checks, lifecycle).")
@click.option("--once", is_flag=True, help="One round of each, then exit (cron).")
@with_appcontext
def mail_worker(interval: float, program_interval: float, once: bool) -> None:
    """Deliver mails, back-channel logouts and the services' security events, and ask the
    Verwaltungsprogramme about open help requests and leavers, in two loops (run one or
    more of these in production).

    With --once the exit status is 1 when any delivery failed (cron notices). Each
    delivery commits on its own (idp.outbox), so this command has no transaction. It logs
    like the server, in IDP_LOG_FORMAT, a line per delivery (a test run keeps its own
    log handlers).
    """
    app = current_app._get_current_object()
    if not current_app.testing:
        logs.configure(current_app)
    if once:
        counts = worker.deliver_round()
        click.echo(worker.summary(counts))
        work = worker.ProgramWork(app, program_interval)
        work.round()
        work.pool.shutdown(wait=True)
        if worker.failed(counts):
            sys.exit(1)
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    programs = threading.Thread(target=worker.ProgramWork(app, program_interval).run,
                                args=(stop,), name="program-work")
    programs.start()
    worker.run(app, interval, stop)
    programs.join()
