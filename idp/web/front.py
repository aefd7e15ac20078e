"""What is answered in front of Flask: the two documents, and userinfo's successes.

Relying parties and resource servers call these more than anything else.

- Discovery and the JWK Set change rarely: discovery never while the process lives, the
  JWK Set when a key is rotated in or out. Each is kept as the complete answer Flask gave
  once (status, every header the app adds, body, ETag) and replayed for GET and HEAD, with
  ``304 Not Modified`` for a matching ``If-None-Match``. The JWK Set's answer is made anew
  when the keyring is reloaded or a retired key's publication ends.
- ``GET /userinfo`` with a well-formed bearer token: the claims come from the same
  function as in Flask's endpoint (``endpoints.released``), with the headers Flask gave
  the last success it answered itself. Anything else (no or a refused token, a query, a
  body, a control character in a header, the database down) goes to Flask, which gives
  the protocol's error; so the fast path only ever repeats a success. Both hold one turn
  at the database (``idp.turns``): a database that hangs costs the request its budget
  once, not twice.

Every other request goes to Flask unchanged.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable

from flask import Flask
from werkzeug.http import parse_etags
from werkzeug.test import EnvironBuilder, run_wsgi_app

from .. import db, metrics, paths, turns
from ..logs import HEADER as REQUEST_ID_HEADER
from ..logs import REQUEST_ID
from ..signing import signing
from . import endpoints
from .guard import B64TOKEN, header_refused

DISCOVERY, JWKS, USERINFO = paths.DISCOVERY, paths.JWKS, paths.USERINFO
PATHS = (DISCOVERY, JWKS)
BEARER = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr] +(\S+)$")
LEARNED_WITHOUT = ("content-length", "x-request-id", "set-cookie")
NOT_MODIFIED_HEADERS = ("etag", "cache-control", "vary", "access-control-allow-origin")


class Answer:
    """One complete response: what Flask answered, ready to be sent again."""

    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body
        self.etag = next((value.strip('"') for name, value in headers
                          if name.lower() == "etag"), None)
        self.not_modified = [(name, value) for name, value in headers
                             if name.lower() in NOT_MODIFIED_HEADERS]

    def send(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        condition = environ.get("HTTP_IF_NONE_MATCH")
        if condition and self.etag and parse_etags(condition).contains_weak(self.etag):
            start_response("304 Not Modified", self.not_modified)
            return [b""]
        start_response(self.status, self.headers)
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [self.body]


class Front:
    """The middleware around a provider's ``wsgi_app``."""

    def __init__(self, app: Flask):
        self.app = app
        self.inner = app.wsgi_app
        self.driver = db.Driver(db.engine(app))
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[object, Answer]] = {}
        self._userinfo_headers: list[tuple[str, str]] | None = None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path in PATHS and environ["REQUEST_METHOD"] in ("GET", "HEAD") and \
                not environ.get("CONTENT_LENGTH") and "HTTP_TRANSFER_ENCODING" not in environ:
            return self.answer(path).send(environ, start_response)
        if path == USERINFO and environ["REQUEST_METHOD"] == "GET":
            return self.userinfo(environ, start_response)
        return self.inner(environ, start_response)

    def userinfo(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """A success as Flask would answer it, or Flask's own answer."""
        started = time.perf_counter()
        token = _plain_bearer(environ)
        if token is None or self._userinfo_headers is None:
            return self.inner(environ, self._learning(start_response) if token else
                              start_response)
        try:
            with turns.holding(self.app.extensions["idp.db.turns"]):
                body = self._released(token)
                if body is None:  # Flask gives the answer, and logs what it must
                    return self.inner(environ, start_response)
        except turns.Busy:
            return self.inner(environ, start_response)  # Flask's 503
        offered = environ.get("HTTP_X_REQUEST_ID", "")
        start_response("200 OK", [*self._userinfo_headers,
                                  ("Content-Length", str(len(body))),
                                  (REQUEST_ID_HEADER, offered if REQUEST_ID.match(offered)
                                   else secrets.token_hex(8))])
        metrics.REQUEST_SECONDS.labels("protocol.userinfo", "GET", "2xx").observe(
            time.perf_counter() - started)
        return [body]

    def _released(self, token: str) -> bytes | None:
        """The body of a userinfo success for ``token``; None for anything else (a
        refused token, the database down or hung, even at the end of the app context)."""
        try:  # one pooled connection, without an ORM session or SQLAlchemy's execution
            with self.app.app_context():
                body = self.app.json.dumps(endpoints.released(token, self.driver)).encode()
        except Exception:  # noqa: BLE001
            return None
        self.app.extensions["idp.db.outage"].answered()  # it answered: back, if it was gone
        return body

    def _learning(self, start_response: Callable) -> Callable:
        """``start_response`` that keeps the headers of a successful userinfo answer."""
        def learn(status: str, headers: list, exc_info=None):
            if status.startswith("200 "):
                self._userinfo_headers = [(name, value) for name, value in headers
                                          if name.lower() not in LEARNED_WITHOUT]
            return start_response(status, headers, exc_info)
        return learn

    def answer(self, path: str) -> Answer:
        """The current answer for ``path``, made by Flask when the document changed."""
        version = self._version(path)
        known = self._answers.get(path)
        if known is not None and known[0] == version:
            return known[1]
        with self._lock:
            known = self._answers.get(path)
            if known is None or known[0] != version:
                answer = self._ask_flask(path)
                if not answer.status.startswith("200 "):
                    return answer  # a failure is answered once, never kept
                known = self._answers[path] = (version, answer)
            return known[1]

    def _version(self, path: str) -> object:
        if path == DISCOVERY:
            return None  # made from the configuration: fixed for the process's life
        now = int(time.time())
        keyring = signing(self.app).keyring()
        return id(keyring), tuple(key.kid for key in keyring.keys
                                  if not (key.retire_until and key.retire_until <= now))

    def _ask_flask(self, path: str) -> Answer:
        builder = EnvironBuilder(path=path, base_url=self.app.config["ISSUER"])
        try:
            body, status, headers = run_wsgi_app(self.inner, builder.get_environ())
            content = b"".join(body)
            if hasattr(body, "close"):
                body.close()
        finally:
            builder.close()
        return Answer(status, [(name, value) for name, value in headers.items()
                               if name.lower() != "set-cookie"], content)


def _plain_bearer(environ: dict) -> str | None:
    """The bearer token of a request that the fast path may answer: no query, no body, no
    control character in any header, RFC 6750 b64token syntax."""
    if environ.get("QUERY_STRING") or environ.get("CONTENT_LENGTH") or \
            "HTTP_TRANSFER_ENCODING" in environ:
        return None
    found = BEARER.match(environ.get("HTTP_AUTHORIZATION", ""))
    if found is None or len(found.group(1)) > 512 or not B64TOKEN.match(found.group(1)):
        return None
    if header_refused(environ):
        return None
    return found.group(1)


def init_app(app: Flask) -> None:
    """Put the middleware in front of the app (last, so it is the outermost layer)."""
    app.wsgi_app = Front(app)
