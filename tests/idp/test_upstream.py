"""Brokering: a second instance of this provider plays the itm:PORTAL's OpenID provider,
over real HTTP; the relying party (Authlib's client) never sees the difference."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from idp import db, factors

from ..helpers import (
    CALLBACK,
    PASSWORD,
    Browser,
    LiveServer,
    RelyingParty,
    add_client,
    assert_signed_in_anew,
    form_field,
    give_totp,
    open_reset_link,
    plant_browser_session,
    totp_code,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def providers(make_app, tmp_path):
    """(ours, the portal's): separate databases, separate host names."""
    portal = LiveServer(make_app, host_name="localhost",
                        DATABASE_URL=f"sqlite:///{tmp_path}/portal.sqlite3")
    db.upgrade(portal.app)
    ours = LiveServer(make_app)
    yield ours, portal
    ours.stop()
    portal.stop()


def follow(browser, response, portal_url, email, password, code=None):
    """Follow redirects across both providers, logging in at the portal when asked (with
    the second step there, answered by ``code()``)."""
    for _ in range(12):
        location = response.headers.get("Location")
        if response.status_code not in (302, 303) or not location:
            return response
        if location.startswith(CALLBACK):
            return response
        if location.startswith("/"):
            base = response.url.split("/", 3)
            location = f"{base[0]}//{base[2]}{location}"
        if location.startswith(portal_url + "/login/zweiter-schritt"):
            page = browser.http.get(location, timeout=10).text
            response = browser.http.post(location, allow_redirects=False, timeout=10, data={
                "csrf_token": form_field(page, "csrf_token"), "method": "totp",
                "code": code()})
        elif location.startswith(portal_url + "/login"):
            page = browser.http.get(location, timeout=10).text
            response = browser.http.post(portal_url + "/login", allow_redirects=False, timeout=10,
                                         data={"csrf_token": form_field(page, "csrf_token"),
                                               "next": form_field(page, "next"),
                                               "tenant": "portal", "email": email,
                                               "password": password})
        else:
            response = browser.http.get(location, allow_redirects=False, timeout=10)
    raise AssertionError("redirect loop")


def connect(ours, portal):
    """Anna at the portal; ours registered there as a client; straubing brokered to it."""
    portal.cli("vhs", "add", "portal", "--name", "itm:PORTAL Straubing", "--onboarded")
    portal.cli("accounts", "add", "--vhs", "portal", "--email", "anna.muster@vhs-straubing.de",
               "--name", "Anna Muster", "--password-stdin", input="Rote-Dächer-am-Stadtrand-7\n")
    output = portal.cli("clients", "add", "vhskoop-idp", "--first-party", "--redirect-uri",
                        ours.url + "/upstream/callback", "--scope", "openid email profile")
    secret = output.strip().splitlines()[-1].rsplit(" ", 1)[1]
    ours.cli("vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    ours.cli("vhs", "set-upstream", "straubing", "--issuer", portal.url, "--client-id",
             "vhskoop-idp", "--client-secret-stdin", input=secret + "\n")


def test_sign_in_through_the_portals_openid_provider(providers):
    ours, portal = providers
    connect(ours, portal)
    add_client(ours, "vhskoop-web", "--public", "--first-party")

    rp = RelyingParty(ours.url, "vhskoop-web")
    browser = Browser(ours.url)
    login_url = browser.get(rp.authorization_url()).headers["Location"]
    page = browser.get(login_url).text
    assert "Mit itm:PORTAL anmelden" in page
    start = re.search(r'href="(/upstream/straubing/start[^"]*)"', page).group(1)
    response = browser.get(start.replace("&amp;", "&"))
    assert response.headers["Location"].startswith(portal.url + "/authorize?")
    assert "code_challenge_method=S256" in response.headers["Location"]
    done = follow(browser, response, portal.url, "anna.muster@vhs-straubing.de",
                  "Rote-Dächer-am-Stadtrand-7")
    assert done.headers["Location"].startswith(CALLBACK), done.text
    claims = rp.verify_id_token(rp.fetch_token(done.headers["Location"]))
    assert claims["email"] == "anna.muster@vhs-straubing.de" and claims["vhs"] == "straubing"
    assert claims["iss"] == ours.url and claims["name"] == "Anna Muster"
    assert claims["amr"] == ["pwd"]  # how the portal authenticated the person
    again = RelyingParty(ours.url, "vhskoop-web")  # single sign-on at ours afterwards
    assert browser.get(again.authorization_url()).headers["Location"].startswith(CALLBACK)


def test_an_upstream_sign_in_with_mfa_there_satisfies_a_policy_here(providers):
    ours, portal = providers
    connect(ours, portal)
    key = give_totp(portal.app, "anna.muster@vhs-straubing.de")  # a factor at the portal
    add_client(ours, "vhskoop-web", "--public", "--first-party", "--require-mfa")
    rp = RelyingParty(ours.url, "vhskoop-web")
    browser = Browser(ours.url)
    page = browser.get(browser.get(rp.authorization_url()).headers["Location"]).text
    start = re.search(r'href="(/upstream/straubing/start[^"]*)"', page).group(1)
    done = follow(browser, browser.get(start.replace("&amp;", "&")), portal.url,
                  "anna.muster@vhs-straubing.de", "Rote-Dächer-am-Stadtrand-7",
                  code=lambda: totp_code(portal.app, "anna.muster@vhs-straubing.de", key))
    assert done.headers["Location"].startswith(CALLBACK), done.text  # no factor asked here
    claims = rp.verify_id_token(rp.fetch_token(done.headers["Location"]))
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == factors.MULTI_FACTOR


def _ours(browser, name):
    """A cookie that our provider (on 127.0.0.1) set in the browser."""
    return next((c.value for c in browser.http.cookies
                 if c.name == name and c.domain.startswith("127.0.0.1")), None)


def test_an_upstream_sign_in_renews_the_session_and_voids_reset_links(providers):
    ours, portal = providers
    connect(ours, portal)
    ours.cli("accounts", "add", "--vhs", "straubing", "--email", "anna.muster@vhs-straubing.de",
             "--password-stdin", input=PASSWORD + "\n")
    browser = Browser(ours.url)
    assert browser.login(None, "straubing", "anna.muster@vhs-straubing.de",
                         PASSWORD).status_code == 303
    old_sso = _ours(browser, "idp_sso")
    reset_link = open_reset_link(ours.app, "straubing", "anna.muster@vhs-straubing.de")
    plant_browser_session(ours.app, lambda name, value: browser.http.cookies.set(
        name, value, domain="127.0.0.1", path="/"))
    done = follow(browser, browser.get("/upstream/straubing/start"), portal.url,
                  "anna.muster@vhs-straubing.de", "Rote-Dächer-am-Stadtrand-7")
    assert done.status_code == 200 and "Sie sind angemeldet" in done.text
    assert_signed_in_anew(ours.app, old_sso, _ours(browser, "idp_sso"),
                          _ours(browser, "idp_session"), reset_link)


def test_a_forged_callback_is_refused(providers):
    ours, _ = providers
    browser = Browser(ours.url)
    response = browser.get("/upstream/callback?code=x&state=y")
    assert response.status_code == 400 and "Location" not in response.headers
    assert urlsplit(ours.url).hostname == "127.0.0.1"


def test_a_wrong_password_at_the_portal_signs_nobody_in(providers):
    ours, portal = providers
    connect(ours, portal)
    browser = Browser(ours.url)
    response = browser.get("/upstream/straubing/start")
    done = follow(browser, response, portal.url, "anna.muster@vhs-straubing.de", PASSWORD)
    assert done.status_code == 401  # the portal's own refusal; nothing came back to us
    assert "Sie sind angemeldet" not in browser.get("/").text
