"""The itm:PORTAL password connector: a small JSON interface over HTTPS.

The interface the portal side implements (documented in docs/operating.md):

- ``POST {base_url}/api/idp/v1/lookup`` ``{"email": ...}`` -> ``{"exists": bool}``
- ``POST {base_url}/api/idp/v1/verify`` ``{"email": ..., "password": ...}`` ->
  ``{"valid": bool, "id": str, "name": str, "email": str}`` (id, name, email when valid)

authenticated with ``Authorization: Bearer <credential>``. Anything else - another status,
a redirect, another content type, malformed or oversized JSON, missing fields, no answer
within the timeouts - is ``PortalUnavailable``, never a login. TLS is verified; the
password travels only in that request body and is never logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3

from adapters import json_input

from ..identity import Identity, Via
from .base import CircuitBreaker, PortalUnavailable

MAX_BODY = 64 * 1024
CONNECT_TIMEOUT, READ_TIMEOUT = 2.0, 5.0  # seconds, unless a VHS's settings say otherwise


@dataclass(frozen=True)
class PortalSettings:
    """One VHS's portal: where, with which credential, how patient."""

    base_url: str
    credential: str
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    reset_path: str = "/passwort-vergessen"

    @classmethod
    def of_vhs(cls, slug: str, credential: str, base_url: str | None = None,
               connect_timeout: float | None = None,
               read_timeout: float | None = None) -> PortalSettings:
        """A VHS's portal as the command line and the console give it: what is not given is
        the default, the portal at ``https://<slug>.meine-vhs.de`` included."""
        return cls(base_url=base_url or default_url(slug), credential=credential,
                   connect_timeout=CONNECT_TIMEOUT if connect_timeout is None
                   else connect_timeout,
                   read_timeout=READ_TIMEOUT if read_timeout is None else read_timeout)

    def check(self) -> None:
        """Raise ValueError for the first rule broken."""
        parts = urlsplit(self.base_url)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("the portal URL must be https (http only on loopback, for tests)")
        if not parts.hostname or parts.query or parts.fragment or self.base_url.endswith("/"):
            raise ValueError("the portal URL must be scheme://host[:port][/path], no trailing /")
        if len(self.credential) < 16:
            raise ValueError("the portal API credential must have at least 16 characters")
        if not (0 < self.connect_timeout <= 30 and 0 < self.read_timeout <= 60):
            raise ValueError("timeouts must be positive (connect at most 30 s, read 60 s)")


def default_url(slug: str) -> str:
    """Where a VHS's itm:PORTAL lives unless its settings say otherwise."""
    return f"https://{slug}.meine-vhs.de"


class HttpPortalConnector:
    """One HTTP session (connection reuse) and one circuit breaker per VHS."""

    def __init__(self, settings: PortalSettings, vhs: str,
                 breaker: CircuitBreaker | None = None,
                 timed: Callable[[str, float, bool], None] | None = None):
        settings.check()
        self.settings = settings
        self.vhs = vhs
        self.breaker = breaker or CircuitBreaker()
        self.timed = timed  # told (call, seconds, failed) after every call, for metrics
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {settings.credential}",
                                  "Accept": "application/json"})

    def _post(self, path: str, body: dict) -> dict:
        def call() -> dict:
            try:
                response = self.http.post(
                    self.settings.base_url + path, json=body, allow_redirects=False,
                    timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                    stream=True)
            except requests.RequestException as error:
                raise PortalUnavailable(f"portal not reachable: {type(error).__name__}") from None
            with response:
                if response.status_code != 200:
                    raise PortalUnavailable(f"portal answered HTTP {response.status_code}")
                if response.headers.get("Content-Type", "").split(";")[0].strip() != \
                        "application/json":
                    raise PortalUnavailable("portal answered something else than JSON")
                try:
                    raw = response.raw.read(MAX_BODY + 1, decode_content=True)
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError,
                        ValueError) as error:
                    raise PortalUnavailable(f"portal answer broke off: {type(error).__name__}"
                                            ) from None
                if len(raw) > MAX_BODY:
                    raise PortalUnavailable("portal answer too large")
                try:
                    data = json_input.loads(raw)
                except ValueError:
                    raise PortalUnavailable("portal answered malformed JSON") from None
            if not isinstance(data, dict):
                raise PortalUnavailable("portal answered JSON that is not an object")
            return data
        started = time.perf_counter()
        try:
            data = self.breaker.call(call)
        except PortalUnavailable:
            if self.timed:
                self.timed(path.rsplit("/", 1)[-1], time.perf_counter() - started, True)
            raise
        if self.timed:
            self.timed(path.rsplit("/", 1)[-1], time.perf_counter() - started, False)
        return data

    def lookup(self, address: str) -> bool:
        """Whether the portal has a staff login for ``address``."""
        data = self._post("/api/idp/v1/lookup", {"email": address})
        if not isinstance(data.get("exists"), bool):
            raise PortalUnavailable("portal lookup answer lacks 'exists'")
        return data["exists"]

    def login(self, address: str, password: str) -> Identity | None:
        """Ask the portal to check the password."""
        data = self._post("/api/idp/v1/verify", {"email": address, "password": password})
        if not isinstance(data.get("valid"), bool):
            raise PortalUnavailable("portal verify answer lacks 'valid'")
        if not data["valid"]:
            return None
        if not isinstance(data.get("id"), (str, int)) or not isinstance(data.get("email"), str):
            raise PortalUnavailable("portal verify answer lacks 'id' or 'email'")
        name = data.get("name") if isinstance(data.get("name"), str) else None
        return Identity(vhs=self.vhs, address=address, via=Via.PORTAL_PASSWORD, amr=("pwd",),
                        name=name, subject=str(data["id"]))

    def password_reset_url(self, address: str) -> str:
        """The portal's own "Passwort vergessen" page."""
        return self.settings.base_url + self.settings.reset_path

    def close(self) -> None:
        """Close the HTTP session."""
        self.http.close()
