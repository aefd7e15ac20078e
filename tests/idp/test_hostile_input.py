"""No input gets a 5xx: hostile values at every form and endpoint, then generated input
(hypothesis) of every shape; the answer is the right error, fast, and nothing is written."""

from __future__ import annotations

import http.client
import json
import os
import time
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from idp import db
from idp.models import AuditEvent, Base

from ..helpers import login_form, run

HOSTILE = ["\x00", "\x01", "a\r\nb", "<script>alert(1)</script>", '"', "'><x", "\\",
           "\u202e", "\u00e4", "%ff", "x" * 5000, "\ud7ff", "\uffff", "../../etc/passwd"]
JSON_PATHS = ("/token", "/userinfo", "/revoke", "/introspect", "/.well-known/", "/jwks",
              "/api/")
ENDPOINTS = [
    ("GET", "/authorize"), ("POST", "/authorize"), ("POST", "/authorize/consent"),
    ("POST", "/token"), ("GET", "/userinfo"), ("POST", "/userinfo"), ("POST", "/revoke"),
    ("POST", "/introspect"), ("GET", "/end_session"), ("POST", "/end_session"),
    ("POST", "/end_session/confirm"), ("GET", "/login"), ("POST", "/login"),
    ("GET", "/neuer-zugang"), ("POST", "/neuer-zugang"), ("GET", "/passwort-vergessen"),
    ("POST", "/passwort-vergessen"), ("GET", "/zugang/aktivieren"),
    ("POST", "/zugang/aktivieren"), ("GET", "/passwort-neu"), ("POST", "/passwort-neu"),
    ("GET", "/account"), ("POST", "/account/password"), ("POST", "/account/logout-everywhere"),
    ("GET", "/upstream/callback"), ("GET", "/upstream/straubing/start"),
    ("PUT", "/api/v1/vhs/straubing/directory"), ("GET", "/.well-known/openid-configuration"),
    ("GET", "/jwks.json"), ("GET", "/"), ("DELETE", "/token"), ("PATCH", "/login"),
    ("OPTIONS", "/authorize"), ("HEAD", "/login"), ("GET", "/login/zweiter-schritt"),
    ("POST", "/login/zweiter-schritt"), ("POST", "/login/zweiter-schritt/passkey"),
    ("GET", "/login/passkey"), ("POST", "/login/passkey"),
    ("GET", "/login/wiederherstellungscode-verwendet"), ("GET", "/account/zweiter-faktor"),
    ("POST", "/account/zweiter-faktor/app"), ("POST", "/account/zweiter-faktor/app/bestaetigen"),
    ("POST", "/account/zweiter-faktor/passkeys"),
    ("POST", "/account/zweiter-faktor/wiederherstellungscodes")]
NAMES = ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "prompt",
         "max_age", "code_challenge", "code_challenge_method", "response_mode", "ui_locales",
         "login_hint", "vhs", "request", "request_uri", "grant_type", "code", "code_verifier",
         "refresh_token", "token", "token_type_hint", "client_secret", "id_token_hint",
         "post_logout_redirect_uri", "csrf_token", "tenant", "email", "password", "next",
         "remember", "confirm", "lang", "access_token", "method", "credential", "name",
         "acr_values"]


COUNTED = [table for table in Base.metadata.sorted_tables if table.name != "audit_events"]
# every table's count in one statement (the generated test asks twice for each example)
COUNTS = select(*(select(func.count()).select_from(table).scalar_subquery().label(table.name)
                  for table in COUNTED))


def rows(app) -> dict[str, int]:
    """How many rows each table has (the audit trail aside: refusals are recorded)."""
    with app.app_context():
        return dict(db.session().execute(COUNTS).one()._mapping)


def check(response, path: str, started: float) -> None:
    """No 5xx, within a second or two, and the error in the shape of the endpoint."""
    assert response.status_code < 500, (path, response.status_code, response.data[:300])
    assert time.monotonic() - started < 5
    if response.status_code >= 400 and path.startswith(JSON_PATHS) and response.data:
        assert response.is_json and "error" in response.json, response.data[:300]
        assert response.json["error_description"].isascii()
    elif response.status_code >= 400 and not path.startswith(JSON_PATHS):
        assert response.mimetype == "text/html"


@pytest.fixture
def hostile_app(app, runner):
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    run(runner, "clients", "add", "rp", "--public", "--redirect-uri",
        "http://127.0.0.1:9/cb", "--first-party")
    return app


@pytest.mark.parametrize("name", ["response_type", "redirect_uri", "client_id", "scope",
                                  "state", "prompt", "max_age", "code_challenge",
                                  "response_mode", "ui_locales", "nonce"])
def test_hostile_values_at_authorize(hostile_app, name):
    client, before = hostile_app.test_client(), rows(hostile_app)
    for value in HOSTILE:
        params = {"response_type": "code", "client_id": "rp", "scope": "openid",
                  "redirect_uri": "http://127.0.0.1:9/cb", "code_challenge": "a" * 43,
                  "code_challenge_method": "S256", name: value}
        started = time.monotonic()
        response = client.get("/authorize", query_string=params)
        check(response, "/authorize", started)
        location = response.headers.get("Location", "")
        if location.startswith("http://127.0.0.1:9/cb"):  # an error for the client
            assert quote(value) not in location.split("error_description=")[-1].split("&")[0]
        elif response.status_code >= 400:  # an error page for the person
            assert value not in response.get_data(as_text=True) or len(value) < 2
    assert rows(hostile_app) == before


@pytest.mark.parametrize("raw", [b"response_type=%ff", b"client_id=%ff%fe&x=%c3",
                                 b"state=%00", b"a=b&" * 300, b"%e2%80%ae=1"])
def test_raw_query_bytes(hostile_app, raw):
    response = hostile_app.test_client().get("/authorize?" + raw.decode("latin-1"))
    assert response.status_code in (302, 400, 413)


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
@pytest.mark.parametrize("credentials", ["//79", "AAAA", "w4g6eA==", "JTAwOng=", "bm9jb2xvbg==",
                                         "not base64!"])
def test_broken_basic_credentials_are_invalid_client(hostile_app, path, credentials):
    response = hostile_app.test_client().post(
        path, data={"grant_type": "client_credentials", "token": "x"},
        headers={"Authorization": f"Basic {credentials}"})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_control_characters_in_client_id(hostile_app, path):
    response = hostile_app.test_client().post(path, data={"client_id": "rp\x01",
                                                          "grant_type": "x", "token": "x"})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_oversized_and_crowded_login_forms(live):
    host, port = urlsplit(live.url).hostname, urlsplit(live.url).port
    cases = [("email=" + "a" * 64 * 1024).encode(), ("email=" + "a" * 1024 * 1024).encode(),
             b"x" * 10 * 1024 * 1024, "&".join(f"f{i}=x" for i in range(10_000)).encode()]
    for body in cases:
        connection = http.client.HTTPConnection(host, port, timeout=20)
        connection.request("POST", "/login", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        page = response.read().decode()
        connection.close()
        assert response.status == 413, page[:200]
        assert "Die Anfrage ist zu groß" in page


def test_a_deeply_nested_directory_list_is_a_400(hostile_app, runner):
    run(runner, "vhs", "set-adapter", "straubing", "--adapter", "directory")
    token = run(runner, "vhs", "directory-token", "straubing").split("(shown once): ")[1]
    token = token.split()[0]
    before = rows(hostile_app)
    deep = "deep"
    for _ in range(33):
        deep = [deep]
    nested_33 = json.dumps([{"email": "a@vhs.de", "x": deep}])
    for body in ("[" * 100_000 + "]" * 100_000, nested_33):
        response = hostile_app.test_client().put(
            "/api/v1/vhs/straubing/directory", data=body, content_type="application/json",
            headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 400 and response.json["error"] == "invalid_request"
        assert "deeper" in response.json["error_description"]
    assert rows(hostile_app) == before


def test_a_hostile_header_is_a_400(hostile_app):
    response = hostile_app.test_client().get("/login", headers={"User-Agent": "x\x01y"})
    assert response.status_code == 400 and response.mimetype == "text/html"


def test_pages_answer_hostile_input_in_english_when_asked(hostile_app):
    response = hostile_app.test_client().get("/login?ui_locales=en&email=%00")
    assert response.status_code == 400
    assert "The request is invalid." in response.get_data(as_text=True)


values = st.one_of(st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
                   st.sampled_from(HOSTILE), st.text(max_size=3).map(lambda t: t * 4000))
fields = st.lists(st.tuples(st.one_of(st.sampled_from(NAMES), values), values), max_size=12)
bodies = st.one_of(
    fields.map(lambda pairs: ("application/x-www-form-urlencoded", "&".join(
        f"{quote(k)}={quote(v)}" for k, v in pairs))),
    st.binary(max_size=300).map(lambda b: ("application/x-www-form-urlencoded", b)),
    st.recursive(st.none() | st.integers() | st.text(max_size=10),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                     st.text(max_size=5), inner, max_size=3), max_leaves=20).map(
        lambda v: ("application/json", json.dumps(v))),
    st.tuples(st.sampled_from(["text/plain", "text/csv", "multipart/form-data",
                               "application/xml", "", "application/x-www-form-urlencoded; "
                               "charset=latin-1"]), st.binary(max_size=200)))


@settings(max_examples=int(os.environ.get("IDP_TEST_EXAMPLES", "300")), deadline=None,
          derandomize=not os.environ.get("IDP_TEST_EXAMPLES"),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(endpoint=st.sampled_from(ENDPOINTS), query=fields, body=bodies,
       authorization=st.one_of(st.none(), st.sampled_from(["Basic //79", "Bearer x", "Bearer",
                                                           "Basic", "Digest x"]),
                                     values.filter(lambda v: not set(v) & set("\r\n"))))
def test_generated_input_never_breaks_anything(hostile_app, endpoint, query, body,
                                               authorization):
    method, path = endpoint
    client = hostile_app.test_client()
    before = rows(hostile_app)
    headers = {"Authorization": authorization} if authorization is not None else {}
    content_type, data = body
    started = time.monotonic()
    try:
        response = client.open(path, method=method, query_string=query, data=data,
                               content_type=content_type, headers=headers)
    except UnicodeEncodeError:
        return  # the test client cannot send it, so no server can receive it either
    check(response, path, started)
    assert rows(hostile_app) == before


def test_refusals_are_audited_not_stored_elsewhere(hostile_app):
    client = hostile_app.test_client()
    _, data = login_form(client)
    client.post("/login", data={**data, "tenant": "straubing", "email": "x@y.de",
                                "password": "falsch"})
    with hostile_app.app_context():
        kinds = set(db.session().scalars(select(AuditEvent.kind)))
    assert "login_failed" in kinds
