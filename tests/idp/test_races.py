"""Races, on the database the suite runs on (PostgreSQL in the second CI run): many
requests at once with one code, one refresh token, one activation link; workers sending
through an outage. Each must end the one way the protocol allows."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
import requests
from sqlalchemy import func, select

from idp import db, mail
from idp.models import Account, Token

from ..helpers import (
    CALLBACK,
    PASSWORD,
    Browser,
    LiveServer,
    RelyingParty,
    add_client,
    form_field,
    query,
    queue_mails,
    run,
    sign_in,
    submit,
    write_config,
)

pytestmark = pytest.mark.e2e


def redeem(rp, callback, secret):
    code = query(callback)["code"]
    return requests.post(rp.metadata["token_endpoint"], auth=("vhskoop", secret), timeout=30,
                         data={"grant_type": "authorization_code", "code": code,
                               "redirect_uri": CALLBACK, "code_verifier": rp.verifier})


def at_once(count: int, action) -> list:
    """Run ``action(index)`` for ``count`` indexes in parallel, released together; the
    answers in index order."""
    barrier = threading.Barrier(count)

    def run_one(index):
        barrier.wait()
        return action(index)
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run_one, range(count)))


def test_fifty_parallel_redemptions_of_one_code_give_one_token_set(live, browser):
    secret = add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", secret)
    callback = sign_in(live, browser, rp)
    answers = at_once(50, lambda _: redeem(rp, callback, secret))
    assert sorted(a.status_code for a in answers) == [200] + [400] * 49


def test_tokens_from_a_replayed_code_end_up_revoked_whatever_the_order(live, browser):
    secret = add_client(live, "vhskoop", "--first-party")
    for _ in range(20):
        rp = RelyingParty(live.url, "vhskoop", secret)
        callback = sign_in(live, browser, rp)
        answers = at_once(2, lambda _: redeem(rp, callback, secret))
        [winner] = [a.json() for a in answers if a.status_code == 200]
        state = requests.post(live.url + "/introspect", auth=("vhskoop", secret), timeout=10,
                              data={"token": winner["access_token"]}).json()
        assert state == {"active": False}


def test_fifty_parallel_uses_of_one_refresh_token_without_grace_give_one_token_set(make_app):
    live = LiveServer(make_app, REFRESH_REUSE_GRACE_SECONDS=0)
    try:
        live.cli("vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
        live.cli("accounts", "add", "--vhs", "straubing", "--email",
                 "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
        secret = add_client(live, "vhskoop", "--first-party")
        rp = RelyingParty(live.url, "vhskoop", secret)
        token = rp.fetch_token(sign_in(live, Browser(live.url), rp))
        answers = at_once(50, lambda _: requests.post(
            rp.metadata["token_endpoint"], auth=("vhskoop", secret), timeout=30,
            data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}))
        assert sorted(a.status_code for a in answers) == [200] + [400] * 49
        [winner] = [a.json() for a in answers if a.status_code == 200]
        # The reuse revoked the whole grant, the new tokens included (RFC 9700 4.14.2).
        state = requests.post(live.url + "/introspect", auth=("vhskoop", secret), timeout=10,
                              data={"token": winner["refresh_token"]}).json()
        assert state == {"active": False}
    finally:
        live.stop()


def test_forty_parallel_reuses_of_spent_refresh_tokens_revoke_the_grant_without_deadlock(
        make_app):
    """Each reuse revokes the same family of twelve tokens at once; the rows are locked in
    one order, so PostgreSQL never has to break a deadlock (which it answers by killing a
    transaction: a 503 here)."""
    live = LiveServer(make_app, REFRESH_REUSE_GRACE_SECONDS=0)
    try:
        live.cli("vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
        live.cli("accounts", "add", "--vhs", "straubing", "--email",
                 "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
        secret = add_client(live, "vhskoop", "--first-party")
        rp = RelyingParty(live.url, "vhskoop", secret)
        spent = [rp.fetch_token(sign_in(live, Browser(live.url), rp))["refresh_token"]]
        for _ in range(11):
            spent.append(requests.post(
                rp.metadata["token_endpoint"], auth=("vhskoop", secret), timeout=30,
                data={"grant_type": "refresh_token", "refresh_token": spent[-1]},
            ).json()["refresh_token"])
        latest = spent.pop()
        answers = at_once(40, lambda index: requests.post(
            rp.metadata["token_endpoint"], auth=("vhskoop", secret), timeout=30,
            data={"grant_type": "refresh_token", "refresh_token": spent[index % len(spent)]}))
        assert sorted(a.status_code for a in answers) == [400] * 40
        assert {a.json()["error"] for a in answers} == {"invalid_grant"}
        state = requests.post(live.url + "/introspect", auth=("vhskoop", secret), timeout=10,
                              data={"token": latest}).json()
        assert state == {"active": False}
    finally:
        live.stop()


def test_within_the_grace_window_parallel_reuses_leave_one_live_refresh_token(live, browser):
    """Ten parallel reuses of a rotated refresh token (ten tabs, or a thief racing the
    client): each gets a fresh access token and the same successor, so the grant has one
    live refresh token, not eleven."""
    secret = add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", secret)
    rotated = rp.fetch_token(sign_in(live, browser, rp))["refresh_token"]
    successor = rp.refresh(rotated)["refresh_token"]
    answers = at_once(10, lambda _: requests.post(
        rp.metadata["token_endpoint"], auth=("vhskoop", secret), timeout=30,
        data={"grant_type": "refresh_token", "refresh_token": rotated}))
    assert [a.status_code for a in answers] == [200] * 10
    assert {a.json()["refresh_token"] for a in answers} == {successor}
    assert len({a.json()["access_token"] for a in answers}) == 10
    with live.app.app_context():
        live_refresh = db.session().scalar(select(func.count(Token.id)).where(
            Token.refresh_token_hash.is_not(None), Token.refresh_used_at.is_(None),
            Token.refresh_revoked_at.is_(None)))
    assert live_refresh == 1
    assert rp.refresh(successor)["access_token"]  # the grant goes on


def test_parallel_first_uses_within_the_grace_window_share_one_successor(live, browser):
    secret = add_client(live, "vhskoop", "--first-party")
    rp = RelyingParty(live.url, "vhskoop", secret)
    token = rp.fetch_token(sign_in(live, browser, rp))
    answers = at_once(5, lambda _: requests.post(
        rp.metadata["token_endpoint"], auth=("vhskoop", secret), timeout=30,
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}))
    assert [a.status_code for a in answers] == [200] * 5
    [successor] = {a.json()["refresh_token"] for a in answers}
    assert rp.refresh(successor)["access_token"]


def test_two_parallel_activations_of_one_link_set_one_password(make_app, kufer_world, smtp,
                                                               tmp_path):
    live = LiveServer(make_app)
    try:
        live.cli("vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded",
                 "--adapter", "kufersql", "--adapter-config",
                 write_config(tmp_path, url=kufer_world["url"], mandant="1"))
        live.cli("vhs", "set-mail", "straubing", "--host", "127.0.0.1", "--port",
                 str(smtp.port), "--security", "none", "--sender", "info@vhs-straubing.de")
        submit(live.app.test_client(), "/neuer-zugang", "anna.muster@vhs-straubing.de")
        with live.app.app_context():
            mail.deliver_due()
        link = re.search(r"https?://\S+token=[\w-]+",
                         smtp.messages[0].get_body(("plain",)).get_content()).group(0)
        path = "/zugang/aktivieren?" + link.split("?", 1)[1]
        browsers = [Browser(live.url), Browser(live.url)]
        forms = [b.get(path).text for b in browsers]
        passwords = ["erstes langes Passwort", "zweites langes Passwort"]

        def activate(index):
            return browsers[index].post(path, {
                "csrf_token": form_field(forms[index], "csrf_token"),
                "token": form_field(forms[index], "token"), "password": passwords[index],
                "confirm": passwords[index]})
        answers = at_once(2, activate)
        assert sorted(a.status_code for a in answers) == [200, 410]
        winner = passwords[[a.status_code for a in answers].index(200)]
        loser = passwords[1 - passwords.index(winner)]
        with live.app.app_context():
            account = db.session().scalar(select(Account))
            hasher = live.app.extensions["idp.passwords"]
            assert hasher.verify(account.password_hash, winner)
            assert not hasher.verify(account.password_hash, loser)
    finally:
        live.stop()


def test_reset_mails_through_an_smtp_outage_are_delivered_once_by_two_workers(make_app, smtp,
                                                                              runner):
    app = make_app()
    clock = [int(time.time())]
    workers = [make_app(), make_app()]
    for one in (app, *workers):
        one.config["CLOCK"] = lambda: clock[0]
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    recipients = queue_mails(app, runner, smtp, 20, expires_at=clock[0] + 3600)
    smtp.stop()
    for worker in workers:
        with worker.app_context():
            mail.deliver_due()
    clock[0] += 30  # the outage lasted 30 s; the retries are due
    smtp.start()

    def deliver(worker):
        with worker.app_context():
            while mail.deliver_due()["delivered"]:
                pass
    threads = [threading.Thread(target=deliver, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(m["To"] for m in smtp.messages) == sorted(recipients)


def test_a_double_click_on_setting_up_the_app_and_one_code_twice(live, browser):
    browser.login(None, "straubing", "anna.muster@vhs-straubing.de", PASSWORD)
    page = browser.get("/account/zweiter-faktor").text
    token = form_field(page, "csrf_token")
    started = at_once(8, lambda _: browser.post("/account/zweiter-faktor/app",
                                                {"csrf_token": token}))
    assert [answer.status_code for answer in started] == [200] * 8  # no duplicate, no 500
    key = re.search(r'id="totp-secret">([A-Z2-7]+)<', browser.get(
        "/account/zweiter-faktor").text).group(1)
    code = pyotp.TOTP(key).now()
    confirmed = at_once(2, lambda _: browser.post("/account/zweiter-faktor/app/bestaetigen",
                                                  {"csrf_token": token, "code": code}))
    assert sorted(answer.status_code for answer in confirmed)[0] == 200
    second = Browser(live.url)  # the same code in two browsers at once: one sign-in
    third = Browser(live.url)
    for other in (second, third):
        other.login(None, "straubing", "anna.muster@vhs-straubing.de", PASSWORD)
    later = pyotp.TOTP(key).generate_otp(int(time.time()) // 30 + 1)
    answers = at_once(2, lambda index: (second, third)[index].post(
        "/login/zweiter-schritt", {"csrf_token": form_field(
            (second, third)[index].get("/login/zweiter-schritt").text, "csrf_token"),
            "method": "totp", "code": later}))
    assert sorted(answer.status_code for answer in answers) == [303, 401]
