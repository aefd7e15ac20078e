"""The documentation's example of a service that signs in here (Flask and Authlib) is run as it
is written: served on loopback against a live provider, a person signs in through it,
and the provider starts a sign-in there through its initiate-login address."""

from __future__ import annotations

import re
import secrets
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
from werkzeug.serving import make_server

from idp.dev.serving import QuietRequestHandler

from ..helpers import PASSWORD, Browser

pytestmark = pytest.mark.e2e

PAGE = Path(__file__).resolve().parents[2] / "docs" / "integrating.md"
MARKER = "<!-- the Authlib example: tests/idp/test_services.py runs this block -->"


def documented_example() -> str:
    """The Python block right after the marker on the documentation's integration page."""
    text = PAGE.read_text()
    found = re.search(re.escape(MARKER) + r"\n```python\n(.*?)```", text, re.S)
    assert found, "docs/integrating.md lost its Authlib example"
    return found.group(1)


@pytest.fixture
def service(live):
    """The documented service, registered at the live provider and served on loopback."""
    server = make_server("127.0.0.1", 0, None, request_handler=QuietRequestHandler)
    base = f"http://127.0.0.1:{server.server_port}"
    output = live.cli("clients", "add", "feedback", "--first-party", "--redirect-uri",
                      base + "/login/callback", "--initiate-login-uri", base + "/login")
    client_secret = output.strip().splitlines()[-1].rsplit(" ", 1)[1]
    namespace = {"ISSUER": live.url, "CLIENT_ID": "feedback", "CLIENT_SECRET": client_secret,
                 "SECRET_KEY": secrets.token_urlsafe(32), "__name__": "documented_service"}
    exec(compile(documented_example(), str(PAGE), "exec"), namespace)  # noqa: S102 - our docs
    server.app = namespace["app"]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_the_documented_service_signs_a_person_in(live, service):
    browser = Browser(live.url)
    assert browser.get(service + "/").text == "Nicht angemeldet"
    start = browser.get(service + "/login")
    assert start.headers["Location"].startswith(live.url + "/authorize?")
    back = browser.authorize(start.headers["Location"], "straubing",
                             "anna.muster@vhs-straubing.de", PASSWORD)
    assert back.headers["Location"].startswith(service + "/login/callback?")
    assert browser.get(back.headers["Location"]).status_code == 302
    assert browser.get(service + "/").text == "Angemeldet: Anna Muster (straubing)"


def test_the_provider_starts_a_sign_in_at_the_documented_service(live, service):
    browser = Browser(live.url)
    assert browser.login(None, "straubing", "anna.muster@vhs-straubing.de",
                         PASSWORD).status_code == 303  # signed in here first
    entry = browser.get(service + "/login?" + urlencode(
        {"iss": live.url, "login_hint": "anna.muster@vhs-straubing.de"}))
    back = browser.authorize(entry.headers["Location"])  # single sign-on: no form
    assert "login_hint=anna.muster" in entry.headers["Location"]
    browser.get(back.headers["Location"])
    assert browser.get(service + "/").text == "Angemeldet: Anna Muster (straubing)"
    other = browser.get(service + "/login?" + urlencode({"iss": "https://evil.example"}))
    assert other.status_code == 400
