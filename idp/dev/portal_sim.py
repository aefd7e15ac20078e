"""An itm:PORTAL simulator: the connector's interface over real HTTP, from a users file.

    vhskoop-idp portal-sim --port 8081 --users users.json --credential SECRET [--mode ...]

The users file is a JSON list of ``{"email", "password_hash" (Argon2), "id", "name"}``.
Modes, for tests and the benchmark: ``normal``; ``slow`` (answers after ``delay``
seconds); ``error`` (HTTP 500); ``html`` (an HTML page); ``redirect`` (302 to a login
page); ``truncated`` (announces more bytes than it sends); ``huge`` (a 2 MB body);
``garbage`` (not JSON). The mode can be changed while it runs.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MODES = ("normal", "slow", "error", "html", "redirect", "truncated", "huge", "garbage")


class PortalSimulator:
    """A running simulator on 127.0.0.1; ``url`` is its base URL."""

    def __init__(self, users: list[dict], credential: str, port: int = 0,
                 mode: str = "normal", delay: float = 10.0):
        self.users = {u["email"].lower(): u for u in users}
        self.credential = credential
        self.mode = mode
        self.delay = delay
        self.requests = 0
        self.hasher = PasswordHasher()
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: passwords travel in these bodies
                pass

            def do_POST(self):
                simulator.requests += 1
                simulator.answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # a stop is noticed within 50 ms (the tests start and stop it many times)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)

    def start(self) -> PortalSimulator:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _send(self, handler, status: int, body: bytes, content_type="application/json",
              length: int | None = None, headers=()):
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in headers:
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    def answer(self, handler) -> None:
        """One request, as the mode says."""
        mode = self.mode
        if mode == "slow":
            time.sleep(self.delay)
        if mode == "error":
            return self._send(handler, 500, b'{"error": "internal"}')
        if mode == "html":
            return self._send(handler, 200, b"<html>Wartungsarbeiten</html>", "text/html")
        if mode == "redirect":
            return self._send(handler, 302, b"", headers=[("Location", "/login")])
        if mode == "truncated":
            return self._send(handler, 200, b'{"exists": tr', length=200)
        if mode == "huge":
            return self._send(handler, 200, b'{"exists": true, "pad": "' + b"x" * 2_000_000 + b'"}')
        if mode == "garbage":
            return self._send(handler, 200, b"{exists: yes")
        if handler.headers.get("Authorization") != f"Bearer {self.credential}":
            return self._send(handler, 401, b'{"error": "unauthorized"}')
        try:
            length = min(int(handler.headers.get("Content-Length", "0")), 65536)
            body = json.loads(handler.rfile.read(length))
            email = str(body["email"]).strip().lower()
        except (ValueError, KeyError, TypeError):
            return self._send(handler, 400, b'{"error": "bad request"}')
        user = self.users.get(email)
        if handler.path == "/api/idp/v1/lookup":
            return self._send(handler, 200, json.dumps({"exists": user is not None}).encode())
        if handler.path == "/api/idp/v1/verify":
            valid = False
            if user is not None:
                try:
                    valid = self.hasher.verify(user["password_hash"], str(body.get("password")))
                except (VerificationError, InvalidHashError):
                    valid = False
            answer = {"valid": valid}
            if valid:
                answer.update(id=str(user["id"]), name=user.get("name"), email=user["email"])
            return self._send(handler, 200, json.dumps(answer).encode())
        return self._send(handler, 404, b'{"error": "not found"}')


def users_file(path: str) -> list[dict]:
    """Read a users file; ValueError with the reason when it is not one."""
    with open(path, encoding="utf-8") as handle:
        users = json.load(handle)
    if not isinstance(users, list) or not all(
            isinstance(u, dict) and {"email", "password_hash", "id"} <= set(u) for u in users):
        raise ValueError("a users file is a JSON list of {email, password_hash, id, name}")
    return users
