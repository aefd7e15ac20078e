"""The person's own page: sessions, "überall abmelden", connected services, password."""

from __future__ import annotations

import re

import pytest

from idp import accounts, tenants
from idp.identity import Identity, Via

from ..helpers import PASSWORD, RelyingParty, add_client, form_field, post_login, sign_in


def csrf(page: str) -> str:
    return form_field(page, "csrf_token")


def test_account_page_needs_a_login(client, tenant):
    response = client.get("/account")
    assert response.status_code == 302 and "/login?next=/account" in response.headers[
        "Location"]


def test_account_page_lists_sessions_and_ends_another_one(app, tenant):
    laptop, phone = app.test_client(), app.test_client()
    laptop.environ_base["HTTP_USER_AGENT"] = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; "
                                              "rv:133.0) Gecko/20100101 Firefox/133.0")
    post_login(laptop)
    post_login(phone)
    page = laptop.get("/account").get_data(as_text=True)
    assert "anna.muster@vhs-straubing.de" in page and "vhs Straubing" in page
    assert "mit Ihrem vhsKOOP-Passwort" in page
    assert "Firefox auf Windows" in page and "Uhr" in page  # not the raw User-Agent
    actions = re.findall(r'action="(/account/sessions/[^"]+/end)"', page)
    assert len(actions) == 2
    own = re.search(r'dieses Gerät\).*?<form method="post" action="([^"]+)"', page,
                    re.S).group(1)
    other = next(a for a in actions if a != own)
    laptop.post(other, data={"csrf_token": csrf(page)})
    assert "Sie sind angemeldet" not in phone.get("/").get_data(as_text=True)
    assert "Sie sind angemeldet" in laptop.get("/").get_data(as_text=True)
    assert laptop.post(own, data={}).status_code == 400  # CSRF


@pytest.mark.e2e
def test_logout_everywhere_and_revoking_a_service(live, browser):
    add_client(live, "partner", "--public")
    add_client(live, "vhskoop", "--public", "--first-party")
    rp = RelyingParty(live.url, "vhskoop")
    token = rp.fetch_token(sign_in(live, browser, rp))
    page = browser.get("/account").text
    assert "vhskoop" in page
    revoke = re.search(r'action="(/account/clients/vhskoop/revoke)"', page).group(1)
    browser.post(revoke, {"csrf_token": csrf(page)})
    with pytest.raises(Exception, match="invalid_grant"):
        rp.refresh(token["refresh_token"])
    page = browser.get("/account").text
    ended = browser.post("/account/logout-everywhere", {"csrf_token": csrf(page)})
    assert ended.status_code == 200 and "Sie sind abgemeldet" in ended.text
    assert "auf allen anderen Geräten" in ended.text  # said, not just a redirect to "/"
    assert "Sie sind angemeldet" not in browser.get("/").text


def test_change_password(app, client, tenant):
    post_login(client)
    other = app.test_client()
    post_login(other)
    page = client.get("/account").get_data(as_text=True)
    wrong = client.post("/account/password", data={
        "csrf_token": csrf(page), "current": "falsch", "password": "ein neues langes Passwort",
        "confirm": "ein neues langes Passwort"})
    assert wrong.status_code == 400 and "stimmt nicht" in wrong.get_data(as_text=True)
    weak = client.post("/account/password", data={
        "csrf_token": csrf(page), "current": PASSWORD, "password": "passwort1234",
        "confirm": "passwort1234"})
    assert weak.status_code == 400 and "sehr verbreitet" in weak.get_data(as_text=True)
    done = client.post("/account/password", data={
        "csrf_token": csrf(page), "current": PASSWORD, "password": "ein neues langes Passwort",
        "confirm": "ein neues langes Passwort"})
    assert done.status_code == 200 and "wurde geändert" in done.get_data(as_text=True)
    assert "Sie sind angemeldet" not in other.get("/").get_data(as_text=True)
    assert "Sie sind angemeldet" in client.get("/").get_data(as_text=True)
    assert post_login(app.test_client(), password="ein neues langes Passwort").status_code == 303


def test_an_identity_of_an_account_is_made_in_one_place(app, tenant):
    """Every confirmed identity of an account (a sign-in, a session stepping up) is made by
    Identity.of: the account's VHS, address, name, id and sub, with how it was confirmed."""
    slug, address = tenant
    with app.app_context():
        account = accounts.find(tenants.find(slug), address)
        identity = Identity.of(account, Via.SESSION, ["pwd", "otp"])
        assert (identity.vhs, identity.address, identity.name, identity.account_id,
                identity.sub) == (slug, address, "Anna Muster", account.id, account.sub)
        assert identity.via == Via.SESSION and identity.amr == ("pwd", "otp")
        assert identity.confirmed
