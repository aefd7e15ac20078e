# ruff: noqa: F811 - ``world`` is a fixture imported from test_console
"""The worker asks the Verwaltungsprogramme apart from its deliveries: a program that
accepts connections and never answers delays no mail and no back-channel logout, and no
other VHS's pass; each hung call ends at the adapter's timeout; and with two workers each
account is asked once per pass."""

from __future__ import annotations

import socket
import threading
import time

from sqlalchemy import func, select

from idp import db, sessions, worker
from idp.models import Account, AuditEvent, Status

from ..helpers import account_of, code_flow, run, submit, write_config
from .test_console import BERND, DORA, PAUL, world  # noqa: F401 - the fixture
from .test_logout import Receiver

SECRET = "program-work-secret-0123456789abcdef0123456789"


class SilentServer:
    """A TCP server on loopback that accepts every connection and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                continue

    def stop(self):
        self.stopped.set()
        for held in self.held:
            held.close()
        self.sock.close()


def _wait(condition, seconds: float) -> float:
    """Seconds until ``condition()`` held; fails after ``seconds``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


def _events(app, kind: str, vhs: str) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.kind == kind, AuditEvent.vhs == vhs))


def test_a_hung_program_delays_no_delivery_and_no_other_vhs(app, runner, world, tmp_path):
    smtp = world
    silent, receiver = SilentServer(), Receiver()
    try:
        config = write_config(tmp_path, url=f"postgresql+psycopg://x@127.0.0.1:{silent.port}/x",
                              timeout=2)
        run(runner, "vhs", "set-adapter", "passau", "--adapter", "kufersql",
            "--adapter-config", config)  # Paul's program now hangs
        run(runner, "clients", "add", "vhskoop", "--secret", SECRET, "--redirect-uri",
            "https://app.example/cb", "--first-party", "--scope", "openid email",
            "--backchannel-logout-uri", receiver.url)
        code_flow(app.test_client(), "vhskoop", SECRET, DORA, scope="openid email")
        with app.app_context():  # Dora logs out: a back-channel notice to deliver
            db.transaction(lambda: sessions.end_all(
                db.session().get(Account, account_of(app, DORA).id)))()
        assert submit(app.test_client(), "/passwort-vergessen", DORA).status_code == 200

        started = time.monotonic()
        stop = worker.start_in_background(app, interval=0.3, program_interval=0.3)
        try:
            _wait(lambda: receiver.tokens and smtp.to(DORA), 5)  # the logout and the mail
            _wait(lambda: account_of(app, BERND).leaving_since is not None, 5)  # straubing's
            hung = _wait(lambda: _events(app, "program_unavailable", "passau") >= 1, 10)
        finally:
            stop.set()
        assert hung <= 2 + 3, hung  # the adapter's timeout (2 s), and a round's start
        assert time.monotonic() - started < 15
        assert account_of(app, PAUL).leaving_since is None  # a failure changes nothing
    finally:
        silent.stop()
        receiver.stop()


def test_two_workers_ask_each_account_once_per_pass(app, make_app, runner, world):
    app.config["LEAVER_BRAKE_PERCENT"] = 100
    with app.app_context():
        vhs_id = account_of(app, DORA).vhs_id
        db.session().add_all([Account(vhs_id=vhs_id, address=f"weg{n}@vhs-straubing.de",
                                      status=Status.ACTIVE) for n in range(30)])
        db.session().commit()
    other = make_app(LEAVER_BRAKE_PERCENT=100)  # a second worker process on the same database
    works = [worker.ProgramWork(each, interval=86400) for each in (app, other)]
    threads = [threading.Thread(target=work.round) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for work in works:
        work.pool.shutdown(wait=True)
    with app.app_context():
        session = db.session()
        leaving = session.scalars(select(Account.sub).where(
            Account.leaving_since.is_not(None))).all()
        assert len(leaving) == 31  # the 30 and Bernd, whom the program does not release
        told = session.execute(select(AuditEvent.who, func.count()).where(
            AuditEvent.kind == "leaving").group_by(AuditEvent.who)).all()
        assert sorted(who for who, _ in told) == sorted(leaving)
        assert {count for _, count in told} == {1}  # each asked once, not once per worker
