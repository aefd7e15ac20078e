"""Every console route, found in ``app.url_map`` (a new route is covered without editing
this test), called by a VHS administrator with another VHS's slug, with the ids of
another VHS's people on their own VHS's pages, and on ITEM's pages: each answers 403 or
404, and nothing in the database changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp import clients, db
from idp.models import Account, Base, HelpRequest

from ..helpers import form_field
from .test_console import ANNA, PAUL, signed_in, world  # noqa: F401 - the fixture

# What a request may touch without changing anything a person or a VHS owns.
VOLATILE = {"sso_sessions": {"last_seen_at", "expires_at"}}
FORM = {"confirmed": "1", "address": PAUL, "email": PAUL, "name": "Neu", "host": "mail.x.de",
        "port": "25", "security": "none", "sender": "a@x.de", "adapter": "kufersql",
        "options": "", "base_url": "https://x.meine-vhs.de", "credential": "x" * 20,
        "issuer": "https://x.example", "client_id": "fremd", "client_secret": "x" * 40,
        "redirect_uris": "https://x.example/cb", "onboarded": "1", "mfa_required": "1",
        "slug": "fremd", "display_name": "Fremd"}


def snapshot(app) -> dict:
    """Every row of every table (the columns a mere visit may touch left out)."""
    with app.app_context():
        session = db.session()
        found = {}
        for table in Base.metadata.sorted_tables:
            keep = [c for c in table.columns if c.name not in VOLATILE.get(table.name, ())]
            found[table.name] = sorted(map(repr, session.execute(select(*keep)).all()))
        return found


def console_routes(app):
    for rule in app.url_map.iter_rules():
        # the start page and the confirmation after a fresh login are her own, of no VHS
        if rule.endpoint.startswith("admin.") and rule.endpoint not in ("admin.index",
                                                                        "admin.resume"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def test_every_console_route_refuses_another_vhs_and_changes_nothing(app, world):  # noqa: F811
    with app.app_context():
        clients.register(clients.Registration(client_id="fremd-dienst",
                                              redirect_uris=["https://x.example/cb"]))
        paul = db.session().scalar(select(Account).where(Account.address == PAUL))
        asked = HelpRequest(vhs_id=paul.vhs_id, address=PAUL, diagnosis="[]", state="open",
                            checks=0, created_at=1)  # passau's help request
        db.session().add(asked)
        db.session().commit()
    anna = signed_in(app, ANNA)  # administrator of straubing
    token = form_field(anna.get("/admin/vhs/straubing/people").get_data(as_text=True),
                       "csrf_token")
    before = snapshot(app)
    answers, routes = {}, 0
    for rule, method in console_routes(app):
        routes += 1
        scopes = [{"slug": "passau", "account_id": paul.id, "client_id": "fremd-dienst",
                   "request_id": asked.id}]
        if "account_id" in rule.arguments:  # their own VHS's page, another VHS's person
            scopes.append({"slug": "straubing", "account_id": paul.id})
        if "request_id" in rule.arguments:  # ... and another VHS's help request
            scopes.append({"slug": "straubing", "request_id": asked.id})
        for values in scopes:
            path = rule.build({k: v for k, v in values.items() if k in rule.arguments})[1]
            if method == "GET":
                answer = anna.get(path)
            else:
                answer = anna.post(path, data={"csrf_token": token, "back": path, **FORM})
            answers[f"{method} {path}"] = answer.status_code
    assert routes >= 35  # every console route but the start page, which is her own
    assert {call: code for call, code in answers.items() if code not in (403, 404)} == {}
    assert snapshot(app) == before


@pytest.mark.parametrize("path", ["/admin/vhs/passau/people", "/admin/audit"])
def test_the_walk_reaches_a_refusal_not_a_login(app, world, path):  # noqa: F811
    """The walk above means something: the same client is signed in and gets the page of
    its own VHS, and a refusal, not the login, for the others."""
    anna = signed_in(app, ANNA)
    assert anna.get("/admin/vhs/straubing/people").status_code == 200
    assert anna.get(path).status_code == 403
