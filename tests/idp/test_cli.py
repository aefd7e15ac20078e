"""The command line: the exact forms operators and scripts use, and clear errors."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp import db
from idp.cli import runner as cli_runner
from idp.models import Client, digest

from ..helpers import PASSWORD


def ok(runner, *args, input=None):
    result = runner.invoke(args=list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output


def fails(runner, *args, input=None):
    result = runner.invoke(args=list(args), input=input)
    assert result.exit_code != 0, result.output
    return result.output


def test_vhs_add_and_list(runner):
    ok(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    ok(runner, "vhs", "add", "passau", "--name", "vhs Passau")
    listing = ok(runner, "vhs", "list")
    assert "straubing\tvhs Straubing\tonboarded" in listing
    assert "passau\tvhs Passau\tnot onboarded" in listing


@pytest.mark.parametrize(("args", "message"), [
    (["vhs", "add", "Straubing!", "--name", "x"], "slug"),
    (["vhs", "add", "straubing", "--name", "  "], "name"),
])
def test_vhs_add_refuses_bad_input(runner, args, message):
    assert message in fails(runner, *args)


def test_duplicate_vhs_is_refused(runner):
    ok(runner, "vhs", "add", "straubing", "--name", "vhs Straubing")
    assert "exists already" in fails(runner, "vhs", "add", "straubing", "--name", "x")


def test_generated_client_secret_is_printed_once_and_stored_hashed(app, runner):
    output = ok(runner, "clients", "add", "vhskoop", "--redirect-uri",
                "https://app.vhskoop.de/callback")
    secret = output.strip().splitlines()[-1].rsplit(" ", 1)[1]
    assert len(secret) >= 40
    with app.app_context():
        client = db.session().scalar(select(Client).where(Client.client_id == "vhskoop"))
        assert client.secret_hash == digest(secret)
        assert secret not in repr(vars(client))
    listing = ok(runner, "clients", "list")
    assert "vhskoop\tconfidential\tthird-party" in listing and secret not in listing


def test_client_with_everything(app, runner):
    ok(runner, "clients", "add", "vhskoop", "--redirect-uri", "https://app.vhskoop.de/cb",
       "--redirect-uri", "http://127.0.0.1:8080/cb", "--post-logout-redirect-uri",
       "https://app.vhskoop.de/", "--first-party", "--secret", "s" * 40,
       "--grant", "authorization_code", "--grant", "refresh_token",
       "--grant", "client_credentials", "--scope", "openid profile email offline_access")
    with app.app_context():
        client = db.session().scalar(select(Client).where(Client.client_id == "vhskoop"))
        assert client.redirect_uris == ["https://app.vhskoop.de/cb", "http://127.0.0.1:8080/cb"]
        assert client.check_client_secret("s" * 40) and not client.check_client_secret("s" * 41)
        assert client.first_party and client.grant_types == [
            "authorization_code", "refresh_token", "client_credentials"]


@pytest.mark.parametrize(("args", "message"), [
    (["--redirect-uri", "not a uri"], "malformed"),
    (["--redirect-uri", "https://app.vhskoop.de/cb#frag"], "fragment"),
    (["--redirect-uri", "http://app.vhskoop.de/cb"], "loopback"),
    (["--redirect-uri", "javascript:alert(1)"], "scheme"),
    (["--redirect-uri", "https://user:pw@app.vhskoop.de/cb"], "credentials"),
    (["--redirect-uri", "https:///cb"], "no host"),
    (["--redirect-uri", "https://app.vhskoop.de:99999/cb"], "malformed"),
    (["--redirect-uri", "https://a.de/cb", "--post-logout-redirect-uri", "http://evil.de/"],
     "loopback"),
    ([], "redirect-uri"),
    (["--public", "--grant", "client_credentials"], "public client"),
    (["--public", "--secret", "s" * 40, "--redirect-uri", "https://a.de/cb"], "no secret"),
    (["--secret", "short", "--redirect-uri", "https://a.de/cb"], "at least 32"),
    (["--redirect-uri", "https://a.de/cb", "--scope", "openid admin"], "unknown scope"),
    (["--grant", "refresh_token", "--redirect-uri", "https://a.de/cb"], "authorization_code"),
    (["--redirect-uri", "https://a.de/cb", "--initiate-login-uri", "http://a.de/start"],
     "loopback"),
    (["--redirect-uri", "https://a.de/cb", "--initiate-login-uri", "de.vhs.app:/start"],
     "initiate-login URI must be https"),
])
def test_clients_add_refuses_bad_input(runner, args, message):
    output = fails(runner, "clients", "add", "vhskoop", *args)
    assert message in output


def test_native_app_scheme_and_loopback_are_allowed(runner):
    ok(runner, "clients", "add", "app", "--public", "--redirect-uri", "de.vhs.app:/callback",
       "--redirect-uri", "http://[::1]:7000/cb", "--redirect-uri", "http://localhost/cb")


def test_duplicate_client_and_bad_client_id(runner):
    ok(runner, "clients", "add", "vhskoop", "--redirect-uri", "https://a.de/cb")
    assert "exists already" in fails(runner, "clients", "add", "vhskoop",
                                      "--redirect-uri", "https://a.de/cb")
    assert "client id" in fails(runner, "clients", "add", "bad id", "--redirect-uri",
                                "https://a.de/cb")


def test_accounts_add(runner):
    ok(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    output = ok(runner, "accounts", "add", "--vhs", "straubing", "--email",
                " Anna@VHS-Straubing.de\u00a0", "--password-stdin", input=PASSWORD + "\n")
    assert "added account anna@vhs-straubing.de at straubing" in output
    assert "anna@vhs-straubing.de\tactive" in ok(runner, "accounts", "list")


@pytest.mark.parametrize(("vhs", "email", "password", "message"), [
    ("nowhere", "a@vhs.de", PASSWORD, "unknown VHS"),
    ("straubing", "not-an-address", PASSWORD, "not an e-mail address"),
    ("straubing", "a@vhs.de", "kurz", "at least 12"),
])
def test_accounts_add_refuses_bad_input(runner, vhs, email, password, message):
    ok(runner, "vhs", "add", "straubing", "--name", "vhs Straubing")
    output = fails(runner, "accounts", "add", "--vhs", vhs, "--email", email,
                   "--password-stdin", input=password + "\n")
    assert message in output


def test_accounts_add_follows_the_configured_password_policy(make_app):
    runner = cli_runner(make_app(PASSWORD_MIN_LENGTH=30))
    ok(runner, "vhs", "add", "straubing", "--name", "vhs Straubing")
    args = ["accounts", "add", "--vhs", "straubing", "--email", "a@vhs.de", "--password-stdin"]
    assert "at least 30" in fails(runner, *args, input=PASSWORD + "\n")
    assert "very common" in fails(runner, *args, input="passwort123456789012345678901234\n")
    assert "without them it needs at least 30" in fails(
        runner, *args, input="ich-arbeite-gern-an-der-vhs-straubing\n")
    ok(runner, *args, input="ein Satz, der lang genug ist, um zu gelten\n")


def test_a_long_password_may_contain_the_place(runner):
    """Only what is left without the address and the VHS name must reach the minimum: the
    benchmark's account ("Bench-Kennwort-2026-xyz" at "vhs Bench") is fine."""
    ok(runner, "vhs", "add", "bench", "--name", "vhs Bench", "--onboarded")
    ok(runner, "accounts", "add", "--vhs", "bench", "--email", "test.user@example.org",
       "--password-stdin", input="Bench-Kennwort-2026-xyz\n")
    assert "without them" in fails(
        runner, "accounts", "add", "--vhs", "bench", "--email", "other@example.org",
        "--password-stdin", input="bench-bench-2026\n")


def test_duplicate_account_is_refused(runner):
    ok(runner, "vhs", "add", "straubing", "--name", "vhs Straubing")
    args = ["accounts", "add", "--vhs", "straubing", "--email", "a@vhs.de", "--password-stdin"]
    ok(runner, *args, input=PASSWORD + "\n")
    assert "already" in fails(runner, *args, input=PASSWORD + "\n")


def test_keys_list_and_rotate(runner):
    before = ok(runner, "keys", "list").strip().splitlines()
    assert sorted(line.split("\t")[2] for line in before) == ["current", "current", "next",
                                                              "next"]
    ok(runner, "keys", "rotate")
    after = [line.split("\t") for line in ok(runner, "keys", "list").strip().splitlines()]
    assert sorted(row[2] for row in after) == ["current", "current", "next", "next",
                                               "retired", "retired"]
    old_next = {line.split("\t")[0] for line in before if line.split("\t")[2] == "next"}
    assert {row[0] for row in after if row[2] == "current"} == old_next


def test_db_current_reports_up_to_date(runner):
    output = ok(runner, "db", "current")
    assert output.splitlines()[0].split()[-1] == output.splitlines()[1].split()[-1]


def test_purge_removes_only_what_ended_long_ago(app, runner):
    from sqlalchemy import func

    from idp.models import Account, SsoSession, Token, Vhs

    with app.app_context():
        session = db.session()
        vhs = Vhs(slug="v", name="v")
        session.add(vhs)
        session.flush()
        account = Account(vhs_id=vhs.id, address="a@v.de", status="active")
        client = Client(client_id="c", grant_types=["client_credentials"])
        session.add_all([account, client])
        session.flush()
        old, fresh = 1_000, 4_000_000_000
        for index, expiry in enumerate([old, fresh]):
            session.add(Token(client_id="c", account_id=account.id, access_token_hash=f"a{index}",
                              access_expires_at=expiry, family_id="f"))
            session.add(SsoSession(sid=f"s{index}", secret_hash=f"h{index}",
                                   account_id=account.id, auth_time=0, expires_at=expiry))
        session.commit()
    assert "=7: 1 tokens, 0 codes, 1 sessions, 0 eligibility answers" in ok(runner, "purge")
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Token)) == 1
        assert db.session().scalar(select(func.count()).select_from(SsoSession)) == 1
