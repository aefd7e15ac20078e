"""The documentation's Shared Signals receiver (Flask and PyJWT) is run as it is written,
against a live provider: it creates its push stream, receives the verification event, and
hears that a person it signed in was disabled, each SET checked with PyJWT against the
provider's JWKS over HTTP."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from idp import signals
from idp.dev.serving import QuietRequestHandler

from ..helpers import CALLBACK, Browser, RelyingParty, sign_in

pytestmark = pytest.mark.e2e

PAGE = Path(__file__).resolve().parents[2] / "docs" / "integrating.md"
MARKER = ("<!-- the Shared Signals receiver: tests/idp/test_shared_signals_example.py runs "
          "this block -->")


def documented_receiver() -> str:
    text = PAGE.read_text()
    found = re.search(re.escape(MARKER) + r"\n```python\n(.*?)```", text, re.S)
    assert found, "docs/integrating.md lost its Shared Signals receiver"
    return found.group(1)


def test_the_documented_receiver_hears_the_events_of_its_people(live):
    output = live.cli("clients", "add", "feedback", "--first-party", "--redirect-uri", CALLBACK,
                      "--grant", "authorization_code", "--grant", "client_credentials",
                      "--scope", "openid email ssf.manage")
    client_secret = output.strip().splitlines()[-1].rsplit(" ", 1)[1]
    namespace = {"ISSUER": live.url, "CLIENT_ID": "feedback", "CLIENT_SECRET": client_secret,
                 "__name__": "documented_receiver"}
    exec(compile(documented_receiver(), str(PAGE), "exec"), namespace)  # noqa: S102 - our docs
    server = make_server("127.0.0.1", 0, namespace["app"],
                         request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        stream = namespace["open_stream"](f"http://127.0.0.1:{server.server_port}/ssf/events")
        assert stream["delivery"]["method"] == signals.PUSH
        rp = RelyingParty(live.url, "feedback", client_secret, scope="openid email")
        tokens = rp.fetch_token(sign_in(live, Browser(live.url), rp))
        sub = rp.verify_id_token(tokens)["sub"]
        live.cli("accounts", "disable", "--vhs", "straubing", "--email",
                 "anna.muster@vhs-straubing.de")
        with live.app.app_context():
            signals.deliver_due()
        heard = namespace["heard"]
        kinds = [event for event, _, _ in heard]
        assert kinds[0] == signals.VERIFICATION
        assert heard[0][2] == {"state": "hello"}
        user = {"format": "iss_sub", "iss": live.url, "sub": sub}
        assert (signals.SESSION_REVOKED, user) in [(e, s.get("user")) for e, s, _ in heard]
        assert (signals.ACCOUNT_DISABLED, user) in [(e, s) for e, s, _ in heard]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
