# ruff: noqa: F811 - ``world`` is a fixture imported from test_console
"""Shared Signals, as a receiver written from the specifications sees them (SSF 1.0, CAEP
1.0, RISC 1.0, RFC 8935, RFC 8936): it reads the metadata, gets a client_credentials
token with ``ssf.manage``, creates its stream and hears each change to the people it holds
tokens for; every SET is verified with PyJWT, a JOSE library the provider does not use."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from sqlalchemy import select, text, update

from idp import db, signals, streams, worker
from idp.models import Account, SsfEvent, Status, now

from ..helpers import (
    FLOW_CALLBACK,
    PASSWORD,
    account_of,
    code_flow,
    form_field,
    give_totp,
    link_in,
    run,
)
from ..helpers import deliver as deliver_mails
from .test_console import BERND, DORA, OPS, act, page_text, signed_in, world  # noqa: F401
from .test_movers import DORA_NEW, _confirm, _dora_moves

SECRET = "ssf-test-secret-0123456789abcdef0123456789abcdef"
OTHER_SECRET = "ssf-other-secret-0123456789abcdef0123456789abcdef"
ALL = list(signals.SUPPORTED)
PETRA = "petra@vhs-passau.de"


class SetReceiver:
    """An RFC 8935 push endpoint on loopback: answers ``failing`` (e.g. 500) to the first
    ``fail`` deliveries, then 202; keeps each SET it accepted, in order."""

    def __init__(self, fail: int = 0, failing: int = 500):
        self.sets: list[str] = []
        self.fail, self.failing, self.headers = fail, failing, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                receiver.headers.append(dict(self.headers))
                if receiver.fail > 0:
                    receiver.fail -= 1
                    self.send_response(receiver.failing)
                    self.end_headers()
                    return
                receiver.sets.append(body)
                self.send_response(202)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = SetReceiver()
    yield made
    made.stop()


def verified(app, token: str, audience: str = "vhskoop") -> dict:
    """The claims of a SET, checked as SSF 1.0 section 4 asks, with PyJWT and the JWKS."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "secevent+jwt"
    keys = app.test_client().get("/jwks.json").get_json()["keys"]
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == header["kid"]))
    claims = jwt.decode(token, key.key, algorithms=[header["alg"]], audience=audience,
                        issuer=app.config["ISSUER"],
                        options={"require": ["iss", "iat", "jti", "aud"]})
    assert "exp" not in claims and "sub" not in claims  # SSF 1.0 4.1.2, 4.1.6
    [event] = claims["events"]
    return claims | {"type": event, "event": claims["events"][event]}


def service(runner, client_id="vhskoop", secret=SECRET, scope="openid email ssf.manage"):
    """A service that signs people in and manages its own stream."""
    run(runner, "clients", "add", client_id, "--secret", secret, "--redirect-uri",
        FLOW_CALLBACK, "--first-party", "--grant", "authorization_code", "--grant",
        "client_credentials", "--scope", scope)


def service_token(app, client_id="vhskoop", secret=SECRET, scope="ssf.manage") -> str:
    """A client_credentials access token."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    answer = app.test_client().post("/token", headers={"Authorization": f"Basic {basic}"},
                                    data={"grant_type": "client_credentials", "scope": scope})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["access_token"]


def call(app, method: str, path: str, token: str | None, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().open(path, method=method, headers=headers,
                                  data=json.dumps(body) if body is not None else None,
                                  content_type="application/json" if body is not None else None)


def push_stream(app, token: str, url: str, events=None) -> dict:
    created = call(app, "POST", "/ssf/stream", token, {
        "delivery": {"method": signals.PUSH, "endpoint_url": url},
        "events_requested": events or ALL, "description": "vhsKOOP"})
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def deliver(app) -> dict:
    with app.app_context():
        return signals.deliver_due()


def heard(app, receiver, count: int = 1, audience: str = "vhskoop") -> list[dict]:
    """The next ``count`` SETs the receiver got, after one delivery round."""
    before = len(receiver.sets)
    deliver(app)
    new = receiver.sets[before:]
    assert len(new) == count, f"{len(new)} SETs, not {count}"
    return [verified(app, token, audience) for token in new]


def test_the_metadata_names_every_endpoint(app):
    found = app.test_client().get("/.well-known/ssf-configuration")
    assert found.status_code == 200 and found.mimetype == "application/json"
    metadata = found.get_json()
    issuer = app.config["ISSUER"]
    assert metadata["spec_version"] == "1_0" and metadata["issuer"] == issuer
    assert metadata["jwks_uri"] == f"{issuer}/jwks.json"
    assert set(metadata["delivery_methods_supported"]) == {signals.PUSH, signals.POLL}
    for name in ("configuration", "status", "add_subject", "remove_subject", "verification"):
        assert metadata[f"{name}_endpoint"].startswith(f"{issuer}/ssf/")
    assert metadata["authorization_schemes"] == [{"spec_urn": "urn:ietf:rfc:6749"}]
    assert metadata["default_subjects"] == "ALL"


def test_a_receiver_hears_each_change_to_a_person_it_holds_tokens_for(
        app, runner, world, kufer_world, receiver):
    service(runner)
    browser = app.test_client()
    code_flow(browser, "vhskoop", SECRET, DORA, scope="openid email")
    dora = account_of(app, DORA)
    token = service_token(app)
    stream = push_stream(app, token, receiver.url)
    assert (stream["iss"], stream["aud"]) == (app.config["ISSUER"], "vhskoop")
    assert stream["events_delivered"] == ALL
    assert call(app, "POST", "/ssf/stream", token, {}).status_code == 409  # one per client

    assert call(app, "POST", "/ssf/verify", token, {"stream_id": stream["stream_id"],
                                                    "state": "abc"}).status_code == 204
    [check] = heard(app, receiver)
    assert check["type"] == signals.VERIFICATION and check["event"] == {"state": "abc"}
    assert check["sub_id"] == {"format": "opaque", "id": stream["stream_id"]}
    assert receiver.headers[-1]["Content-Type"] == "application/secevent+jwt"
    user = {"format": "iss_sub", "iss": app.config["ISSUER"], "sub": dora.sub}

    page = browser.get("/account").get_data(as_text=True)  # a new password
    changed = browser.post("/account/password", data={
        "csrf_token": form_field(page, "csrf_token"), "current": PASSWORD,
        "password": "ein ganz neues Passwort", "confirm": "ein ganz neues Passwort"})
    assert changed.status_code == 200
    [password] = heard(app, receiver)
    assert password["type"] == signals.CREDENTIAL_CHANGE and password["sub_id"] == user
    assert (password["event"]["credential_type"], password["event"]["change_type"]) == (
        "password", "update")

    give_totp(app, DORA)  # an authenticator app
    [app_added] = heard(app, receiver)
    assert (app_added["event"]["credential_type"], app_added["event"]["change_type"]) == (
        "app", "create")

    console = signed_in(app)  # Anna, the administrator: "Alle Sitzungen beenden"
    person = f"/admin/vhs/straubing/people/{dora.id}"
    act(console, person, f"{person}/end-sessions")
    [revoked] = heard(app, receiver)
    assert revoked["type"] == signals.SESSION_REVOKED
    assert revoked["sub_id"]["user"] == user and revoked["sub_id"]["session"]["id"]

    act(console, person, f"{person}/disable", confirmed="1")  # "Sperren"
    [disabled] = heard(app, receiver)
    assert disabled["type"] == signals.ACCOUNT_DISABLED and disabled["sub_id"] == user
    act(console, person, f"{person}/enable")  # "Entsperren"
    [enabled] = heard(app, receiver)
    assert enabled["type"] == signals.ACCOUNT_ENABLED

    run(runner, "accounts", "delete", "--vhs", "straubing", "--email", DORA, "--yes")
    [purged] = heard(app, receiver)
    assert purged["type"] == signals.ACCOUNT_PURGED and purged["sub_id"] == user
    jtis = [verified(app, token)["jti"] for token in receiver.sets]
    assert len(jtis) == len(set(jtis)) == 7  # each once


def test_a_mover_s_new_address_goes_to_the_services_that_got_the_email_claim(
        app, runner, world, kufer_world, receiver):
    service(runner)
    service(runner, "feedback", OTHER_SECRET, "openid profile ssf.manage")
    code_flow(app.test_client(), "vhskoop", SECRET, DORA, scope="openid email")
    code_flow(app.test_client(), "feedback", OTHER_SECRET, DORA, scope="openid profile")
    other = SetReceiver()
    try:
        push_stream(app, service_token(app), receiver.url)
        push_stream(app, service_token(app, "feedback", OTHER_SECRET), other.url)
        _dora_moves(app, runner, kufer_world)
        deliver_mails(app)
        [mail] = world.to(DORA_NEW)
        assert _confirm(app, link_in(mail)).status_code == 200
        [changed] = heard(app, receiver)
        assert changed["type"] == signals.IDENTIFIER_CHANGED
        assert changed["sub_id"] == {"format": "email", "email": DORA}  # RISC: the old one
        assert changed["event"]["new-value"] == DORA_NEW
        assert other.sets == []  # itm:FEEDBACK never got the address
    finally:
        other.stop()


def test_a_service_hears_nothing_of_people_it_never_held_tokens_for(app, runner, world,
                                                                    receiver):
    service(runner)
    token = service_token(app)
    stream = push_stream(app, token, receiver.url)
    bernd = account_of(app, BERND)
    console = signed_in(app)
    person = f"/admin/vhs/straubing/people/{bernd.id}"
    act(console, person, f"{person}/disable", confirmed="1")
    subject = {"format": "iss_sub", "iss": app.config["ISSUER"], "sub": bernd.sub}
    for endpoint in ("/ssf/subjects:add", "/ssf/subjects:remove"):  # no probing either
        answer = call(app, "POST", endpoint, token, {"stream_id": stream["stream_id"],
                                                     "subject": subject})
        assert answer.status_code in (200, 204)
    unknown = call(app, "POST", "/ssf/subjects:add", token, {
        "stream_id": stream["stream_id"], "subject": subject | {"sub": "nobody"}})
    assert unknown.status_code == 200  # the same answer as for a person who exists
    deliver(app)
    assert receiver.sets == []


def test_a_removed_subject_hears_nothing_until_added_again(app, runner, world, receiver):
    service(runner)
    code_flow(app.test_client(), "vhskoop", SECRET, DORA, scope="openid email")
    dora = account_of(app, DORA)
    token = service_token(app)
    stream = push_stream(app, token, receiver.url)
    subject = {"format": "iss_sub", "iss": app.config["ISSUER"], "sub": dora.sub}
    ask = {"stream_id": stream["stream_id"], "subject": subject}
    assert call(app, "POST", "/ssf/subjects:remove", token, ask).status_code == 204
    give_totp(app, DORA)
    deliver(app)
    assert receiver.sets == []
    assert call(app, "POST", "/ssf/subjects:add", token, ask).status_code == 200
    with app.app_context():
        db.transaction(lambda: signals.account_disabled(
            db.session().get(Account, dora.id)))()
    [event] = heard(app, receiver)
    assert event["type"] == signals.ACCOUNT_DISABLED


def test_only_the_client_s_own_token_with_ssf_manage_reaches_its_stream(app, runner, world,
                                                                        receiver):
    service(runner)
    service(runner, "feedback", OTHER_SECRET, "openid ssf.read")
    token = service_token(app)
    stream = push_stream(app, token, receiver.url)
    reader = service_token(app, "feedback", OTHER_SECRET, "ssf.read")
    where = f"/ssf/stream?stream_id={stream['stream_id']}"

    assert call(app, "GET", where, None).status_code == 401
    assert call(app, "GET", where, "not-a-token").status_code == 401
    assert call(app, "GET", where, reader).status_code == 404  # another client's stream
    assert call(app, "GET", "/ssf/stream", reader).get_json() == []  # it has none
    assert call(app, "POST", "/ssf/stream", reader, {}).status_code == 403  # read only
    assert call(app, "DELETE", where, reader).status_code == 403
    assert call(app, "GET", where, token).get_json()["stream_id"] == stream["stream_id"]

    person = code_flow(app.test_client(), "vhskoop", SECRET, DORA, scope="openid email")
    assert call(app, "GET", where, person["access_token"]).status_code == 401  # a person's
    run(runner, "clients", "set", "vhskoop", "--scope", "openid email")  # taken away
    assert call(app, "GET", where, token).status_code == 403
    output = run(runner, "clients", "add", "bad", "--secret", SECRET, "--redirect-uri",
                 FLOW_CALLBACK, "--scope", "openid ssf.manage", code=1)
    assert "need the client_credentials grant" in output


@pytest.mark.parametrize(("body", "message"), [
    ({"delivery": {"method": "urn:example:smoke"}}, "'delivery.method' must be"),
    ({"delivery": {"method": signals.PUSH}}, "needs 'delivery.endpoint_url'"),
    ({"delivery": {"method": signals.PUSH, "endpoint_url": "http://example.org/e"}},
     "must be https"),
    ({"delivery": {"method": signals.PUSH, "endpoint_url": "https://x.example/e",
                   "authorization_header": "Bearer a\nb"}}, "one line of text"),
    ({"events_requested": "all"}, "must be a list"),
    ({"description": 7}, "must be a string"),
])
def test_hostile_stream_requests_get_a_400_and_store_nothing(app, runner, world, body,
                                                             message):
    service(runner)
    token = service_token(app)
    answer = call(app, "POST", "/ssf/stream", token, body)
    assert answer.status_code == 400 and message in answer.get_json()["error_description"]
    assert call(app, "GET", "/ssf/stream", token).get_json() == []
    raw = app.test_client().post("/ssf/stream", headers={"Authorization": f"Bearer {token}"},
                                 data=b"{not json", content_type="application/json")
    assert raw.status_code == 400


def test_a_failing_receiver_gets_each_event_once_in_order_after_it_recovers(
        app, runner, world):
    service(runner)
    code_flow(app.test_client(), "vhskoop", SECRET, DORA, scope="openid email")
    dora = account_of(app, DORA)
    failing = SetReceiver(fail=4, failing=500)
    try:
        push_stream(app, service_token(app), failing.url)
        with app.app_context():
            account = db.session().get(Account, dora.id)
            for _ in range(3):
                signals.credential_change(account, "password", "update")
            db.session().commit()
        for _ in range(6):  # each failure waits its back-off: here it is over at once
            deliver(app)
            with app.app_context():
                db.session().execute(update(SsfEvent).values(next_attempt_at=0))
                db.session().commit()
        claims = [verified(app, token) for token in failing.sets]
        assert len(claims) == 3 and len({c["jti"] for c in claims}) == 3
        assert [c["jti"] for c in claims] == _queued(app)
    finally:
        failing.stop()


def _queued(app) -> list[str]:
    with app.app_context():
        return list(db.session().scalars(select(SsfEvent.jti).order_by(SsfEvent.id)))


def test_a_thousand_events_while_the_receiver_is_down_arrive_once_each_in_order(
        app, runner, world):
    service(runner)
    run(runner, "accounts", "add", "--vhs", "passau", "--email", PETRA, "--password-stdin",
        input=PASSWORD + "\n")
    subs = []
    for address, tenant in ((DORA, "straubing"), (PETRA, "passau")):
        code_flow(app.test_client(), "vhskoop", SECRET, address, tenant=tenant,
                  scope="openid email")
        subs.append(account_of(app, address).id)
    down = SetReceiver(fail=10**6, failing=503)
    try:
        push_stream(app, service_token(app), down.url)
        with app.app_context():
            people = [db.session().get(Account, account_id) for account_id in subs]
            for number in range(1000):
                signals.credential_change(people[number % 2], "password", "update")
            db.session().commit()
        deliver(app)  # down: the first is retried, the others wait behind it
        assert down.sets == []
        down.fail = 0  # ten minutes later it is back
        with app.app_context():
            db.session().execute(text("UPDATE ssf_events SET next_attempt_at = 0"))
            db.session().commit()
        for _ in range(20):
            if deliver(app)["delivered"] == 0:
                break
        assert [verified(app, token)["jti"] for token in down.sets] == _queued(app)
        assert len(down.sets) == 1000
    finally:
        down.stop()


def test_a_poll_stream_takes_and_acknowledges_the_same_events(app, runner, world):
    service(runner)
    code_flow(app.test_client(), "vhskoop", SECRET, DORA, scope="openid email")
    token = service_token(app)
    created = call(app, "POST", "/ssf/stream", token, {"events_requested": ALL})
    assert created.status_code == 201
    stream = created.get_json()
    assert stream["delivery"]["method"] == signals.POLL
    poll_url = stream["delivery"]["endpoint_url"]
    path = poll_url.removeprefix(app.config["ISSUER"])
    give_totp(app, DORA)
    console = signed_in(app)
    dora = account_of(app, DORA)
    act(console, f"/admin/vhs/straubing/people/{dora.id}",
        f"/admin/vhs/straubing/people/{dora.id}/disable", confirmed="1")

    first = call(app, "POST", path, token, {"maxEvents": 1, "returnImmediately": True})
    assert first.status_code == 200
    [(jti, set_token)] = first.get_json()["sets"].items()
    assert first.get_json()["moreAvailable"] is True
    assert verified(app, set_token)["type"] == signals.CREDENTIAL_CHANGE
    rest = call(app, "POST", path, token, {"ack": [jti]}).get_json()
    kinds = [verified(app, t)["type"] for t in rest["sets"].values()]
    assert signals.ACCOUNT_DISABLED in kinds and jti not in rest["sets"]
    errs = {j: {"err": "invalid_key", "description": "test"} for j in list(rest["sets"])[:1]}
    done = call(app, "POST", path, token, {"ack": list(rest["sets"])[1:], "setErrs": errs,
                                           "maxEvents": 0}).get_json()
    assert done == {"sets": {}, "moreAvailable": False}
    assert call(app, "POST", path, token, {}).get_json()["sets"] == {}
    assert call(app, "POST", path, token, {"maxEvents": -1}).status_code == 400


def test_a_paused_stream_holds_its_events_and_delivers_them_in_order(app, runner, world,
                                                                     receiver):
    service(runner)
    code_flow(app.test_client(), "vhskoop", SECRET, DORA, scope="openid email")
    dora = account_of(app, DORA)
    token = service_token(app)
    stream = push_stream(app, token, receiver.url)
    paused = call(app, "POST", "/ssf/status", token, {"stream_id": stream["stream_id"],
                                                      "status": "paused"})
    assert paused.get_json() == {"stream_id": stream["stream_id"], "status": "paused"}
    with app.app_context():
        account = db.session().get(Account, dora.id)
        signals.account_disabled(account)
        signals.account_enabled(account)
        db.session().commit()
    deliver(app)
    assert receiver.sets == []
    call(app, "POST", "/ssf/status", token, {"stream_id": stream["stream_id"],
                                             "status": "enabled"})
    deliver(app)
    assert [verified(app, t)["type"] for t in receiver.sets] == [
        signals.ACCOUNT_DISABLED, signals.ACCOUNT_ENABLED]

    call(app, "POST", "/ssf/status", token, {"stream_id": stream["stream_id"],
                                             "status": "disabled"})
    with app.app_context():
        signals.account_disabled(db.session().get(Account, dora.id))
        db.session().commit()
    assert call(app, "GET", f"/ssf/status?stream_id={stream['stream_id']}",
                token).get_json()["status"] == "disabled"
    assert _queued(app) == [verified(app, t)["jti"] for t in receiver.sets]  # dropped


def test_an_operator_sets_up_a_stream_and_purge_keeps_events_seven_days(app, runner, world,
                                                                        receiver):
    service(runner, scope="openid email")
    output = run(runner, "clients", "set", "vhskoop", "--ssf-push", receiver.url,
                 "--ssf-events", "session-revoked", "--ssf-events", "account-disabled")
    assert "Shared Signals stream" in output and "2 kinds of events" in output
    code_flow(app.test_client(), "vhskoop", SECRET, DORA, scope="openid email")
    give_totp(app, DORA)  # not asked for: nothing
    with app.app_context():
        dora = db.session().scalar(select(Account).where(Account.address == DORA))
        signals.account_disabled(dora)
        db.session().commit()
    deliver(app)
    assert [verified(app, t)["type"] for t in receiver.sets] == [signals.ACCOUNT_DISABLED]
    purged = run(runner, "purge")
    assert "IDP_SSF_EVENT_DAYS=7: 0 security events" in purged
    with app.app_context():
        db.session().execute(update(SsfEvent).values(created_at=now() - 8 * 86400))
        db.session().commit()
    assert "IDP_SSF_EVENT_DAYS=7: 1 security events" in run(runner, "purge")
    run(runner, "clients", "set", "vhskoop", "--no-ssf")
    with app.app_context():
        assert streams.of_client("vhskoop") is None
        assert db.session().get(Account, dora.id).status == Status.ACTIVE


def test_events_reach_the_receiver_within_five_seconds_through_the_worker(
        app, runner, world, receiver):
    service(runner)
    code_flow(app.test_client(), "vhskoop", SECRET, DORA, scope="openid email")
    push_stream(app, service_token(app), receiver.url)
    stop = worker.start_in_background(app, interval=0.5, program_interval=60)
    try:
        started = time.monotonic()
        give_totp(app, DORA)
        while not receiver.sets and time.monotonic() - started < 5:
            time.sleep(0.05)
        assert receiver.sets, "no event within 5 s"
    finally:
        stop.set()


def test_an_operator_s_pause_is_announced_before_the_events_stop(app, runner, world,
                                                                  receiver):
    service(runner)
    code_flow(app.test_client(), "vhskoop", SECRET, DORA, scope="openid email")
    dora = account_of(app, DORA)
    stream = push_stream(app, service_token(app), receiver.url)
    run(runner, "clients", "set", "vhskoop", "--ssf-status", "paused")
    [updated] = heard(app, receiver)
    assert updated["type"] == signals.STREAM_UPDATED and updated["event"]["status"] == "paused"
    assert updated["sub_id"] == {"format": "opaque", "id": stream["stream_id"]}
    with app.app_context():
        signals.account_disabled(db.session().get(Account, dora.id))
        db.session().commit()
        assert streams.of_client("vhskoop").status == "paused"
    deliver(app)
    assert len(receiver.sets) == 1  # held
    run(runner, "clients", "set", "vhskoop", "--ssf-status", "enabled")
    deliver(app)
    assert [verified(app, t)["type"] for t in receiver.sets[1:]] == [
        signals.ACCOUNT_DISABLED, signals.STREAM_UPDATED]  # the held one, then the news


def test_an_operator_sets_a_stream_up_in_the_console(app, runner, world, receiver):
    service(runner, scope="openid email")
    console = signed_in(app, OPS, tenant="item")
    page = "/admin/clients/vhskoop"
    assert "Noch kein Stream" in page_text(console.get(page))
    refused = act(console, page, f"{page}/ssf", method="push", push_url="http://example.org/")
    assert streams_of(app) is None and "https" in page_text(console.get(refused.headers[
        "Location"]))
    act(console, page, f"{page}/ssf", method="push", push_url=receiver.url,
        events=[signals.ACCOUNT_DISABLED, signals.SESSION_REVOKED])
    shown = page_text(console.get(page))
    assert receiver.url in shown and "aktiv" in shown
    with app.app_context():
        stream = streams.of_client("vhskoop")
        assert signals.delivered(stream) == [signals.SESSION_REVOKED, signals.ACCOUNT_DISABLED]
    act(console, page, f"{page}/ssf", status="paused")
    deliver(app)
    [updated] = [verified(app, t) for t in receiver.sets]
    assert updated["event"]["status"] == "paused"
    act(console, page, f"{page}/ssf", method="none")
    assert streams_of(app) is None


def streams_of(app):
    with app.app_context():
        return streams.of_client("vhskoop")
