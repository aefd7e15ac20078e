"""The cut-over: vhsKOOP's accounts imported with their hashes, verified in their own format
at the first sign-in and replaced by Argon2id; the services keep their user ids."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import time

import pytest
import requests
from passlib import hash as formats
from sqlalchemy import func, select

from idp import db
from idp.cli import runner as cli_runner
from idp.dev.portal_sim import PortalSimulator
from idp.models import Account, AuditEvent, OutboxMail
from idp.passwords import passwords

from ..helpers import (
    CALLBACK,
    Browser,
    RelyingParty,
    account_of,
    add_client,
    post_login,
    query,
    run,
    secret,
)

OLD = secret("Altes-Passwort-2019!")
FORMATS = {  # one person per format, with the cheapest parameters each allows
    "bcrypt-2a": formats.bcrypt.using(rounds=4, ident="2a").hash(OLD),
    "bcrypt-2b": formats.bcrypt.using(rounds=4, ident="2b").hash(OLD),
    "bcrypt-2y": formats.bcrypt.using(rounds=4, ident="2y").hash(OLD),
    "argon2i": formats.argon2.using(type="i", rounds=1, memory_cost=64, parallelism=1).hash(OLD),
    "argon2id": formats.argon2.using(type="id", rounds=1, memory_cost=64, parallelism=1).hash(OLD),
    "django": formats.django_pbkdf2_sha256.using(rounds=1000).hash(OLD),
    "pbkdf2": formats.pbkdf2_sha256.using(rounds=1000).hash(OLD),
    "sha512-crypt": formats.sha512_crypt.using(rounds=1000).hash(OLD),
    "sha256-crypt": formats.sha256_crypt.using(rounds=1000).hash(OLD),
    "pbkdf2-phc": "$pbkdf2-sha256$i=1000,l=32${}${}".format(*(
        base64.b64encode(part).decode().rstrip("=") for part in (
            b"phc-salt-16bytes", hashlib.pbkdf2_hmac("sha256", OLD.encode(),
                                                     b"phc-salt-16bytes", 1000)))),
}
FIELDS = ["vhs", "email", "name", "legacy_id", "password_hash", "state", "created_at",
          "last_login_at"]


def person(who: str, **extra) -> dict:
    row = {"vhs": "altstadt", "email": f"{who}@vhs-altstadt.de", "name": f"Person {who}",
           "legacy_id": f"koop-{who}", "password_hash": FORMATS.get(who, ""),
           "state": "active", "created_at": "2019-03-01T10:00:00Z",
           "last_login_at": "1700000000"}
    row.update(extra)
    return row


def write_csv(path, rows) -> str:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def altstadt(runner, tenant):
    run(runner, "vhs", "add", "altstadt", "--name", "vhs Altstadt", "--onboarded")
    run(runner, "vhs", "add", "neustadt", "--name", "vhs Neustadt")  # not onboarded
    return "altstadt"


def every_person():
    return [person(name) for name in FORMATS] + [person("ohne-hash")]


REFUSED = [
    (person("md5", password_hash="5f4dcc3b5aa765d61d8327deb882cf99"), "unsalted hash (MD5)"),
    (person("md5crypt", password_hash="$1$abc$Xz0H3d5S2wYqz1m2m7eR01"), "MD5-crypt"),
    (person("strange", password_hash="{CRYPT}hm"), "unsupported hash format"),
    (person("x", vhs="nirgendwo"), "unknown VHS"),
    (person("y", vhs="neustadt"), "VHS not onboarded"),
    (person("z", email="z\u200b@vhs-altstadt.de"), "a zero-width space (U+200B)"),
    (person("w", email="w@vhs-\u0430ltstadt.de"), 'a Cyrillic letter (U+0430) that looks like "a"'),
    (person("v", email="v.vhs-altstadt.de"), "not a well-formed address (no_at)"),
    (person("bcrypt-2a", name="Doppelt"), "the same address as line 2"),
    (person("u", state="gesperrt"), "state must be active or disabled"),
    (person("t", legacy_id="koop-argon2i"), "the same legacy_id as line 5"),
]


def counts(app) -> dict:
    with app.app_context():
        return {"accounts": db.session().scalar(select(func.count()).select_from(Account)),
                "events": db.session().scalar(select(func.count()).select_from(AuditEvent))}


def test_a_dry_run_reports_every_line_and_changes_nothing(app, runner, altstadt, tmp_path):
    path = write_csv(tmp_path / "koop.csv", every_person() + [row for row, _ in REFUSED])
    before = counts(app)
    output = run(runner, "accounts", "import", path, "--dry-run", code=3)
    assert "altstadt: new 11, updated 0, unchanged 0, refused 9" in output
    for number, (_, reason) in enumerate(REFUSED, start=len(every_person()) + 2):
        line = next(text for text in output.splitlines() if text.startswith(
            f"refused line {number} "))
        assert reason in line, (reason, line)
    assert "dry run: nothing was changed" in output
    assert counts(app) == before
    client = app.test_client()
    assert post_login(client, "altstadt", "argon2id@vhs-altstadt.de", OLD).status_code == 401


@pytest.mark.e2e
def test_imported_people_sign_in_with_their_old_passwords_then_on_argon2id(live, tmp_path):
    live.cli("vhs", "add", "altstadt", "--name", "vhs Altstadt", "--onboarded")
    output = live.cli("accounts", "import", write_csv(tmp_path / "koop.csv", every_person()))
    assert "altstadt: new 11, updated 0, unchanged 0, refused 0" in output
    add_client(live, "vhskoop", "--public", "--first-party")
    for name in FORMATS:
        address = f"{name}@vhs-altstadt.de"
        refused = Browser(live.url).authorize(RelyingParty(live.url, "vhskoop")
                                              .authorization_url(), "altstadt", address,
                                              "falsch-falsch")
        assert refused.status_code == 401, name
        for _ in range(2):  # the old hash, then the Argon2id hash that replaced it
            rp = RelyingParty(live.url, "vhskoop")
            callback = Browser(live.url).authorize(rp.authorization_url(), "altstadt",
                                                   address, OLD)
            assert callback.headers["Location"].startswith(CALLBACK), (name, callback.text)
            claims = rp.verify_id_token(rp.fetch_token(callback.headers["Location"]))
            assert claims["sub"] == account_of(live.app, address).sub
            account = account_of(live.app, address)
            assert account.legacy_hash is None
            assert account.password_hash.startswith("$argon2id$")
    with live.app.app_context():
        stored = " ".join(str(value) for row in db.session().execute(select(Account))
                          for value in vars(row[0]).values())
        upgraded = db.session().scalars(select(AuditEvent.detail).where(
            AuditEvent.kind == "password_upgraded")).all()
    assert not any(old in stored for old in FORMATS.values())  # no trace of the old hashes
    assert sorted(upgraded) == sorted(["bcrypt"] * 3 + ["Argon2"] * 2 + [
        "PBKDF2-SHA256 (Django)", "PBKDF2-SHA256", "PBKDF2-SHA256 (PHC)", "SHA-512-crypt",
        "SHA-256-crypt"])
    # The person without a hash cannot sign in (no old login here): said like a wrong one.
    page = Browser(live.url).authorize(RelyingParty(live.url, "vhskoop").authorization_url(),
                                       "altstadt", "ohne-hash@vhs-altstadt.de", OLD)
    assert page.status_code == 401


def test_a_second_run_changes_nothing_and_a_later_export_updates_who_did_not_sign_in(
        app, runner, altstadt, tmp_path):
    rows = every_person()
    path = write_csv(tmp_path / "koop.csv", rows)
    run(runner, "accounts", "import", path)
    assert "new 0, updated 0, unchanged 11, refused 0" in run(runner, "accounts", "import", path)
    assert post_login(app.test_client(), "altstadt", "django@vhs-altstadt.de",
                      OLD).status_code == 303
    later = [dict(row, name="Neu " + row["name"], state="disabled") for row in rows]
    output = run(runner, "accounts", "import", write_csv(tmp_path / "later.csv", later))
    assert "new 0, updated 10, unchanged 1, refused 0" in output
    assert "(altstadt, pbkdf2@vhs-altstadt.de): name, state" in output
    assert account_of(app, "pbkdf2@vhs-altstadt.de").status == "disabled"
    kept = account_of(app, "django@vhs-altstadt.de")  # signed in here since: kept
    assert kept.status == "active" and kept.display_name == "Person django"


def test_an_account_made_here_takes_only_the_legacy_id(app, runner, altstadt, tmp_path):
    row = person("anna", vhs="straubing", email="anna.muster@vhs-straubing.de",
                 password_hash=FORMATS["bcrypt-2y"], name="Jemand Anders")
    output = run(runner, "accounts", "import", write_csv(tmp_path / "a.csv", [row]))
    assert "straubing: new 0, updated 1" in output
    anna = account_of(app, "anna.muster@vhs-straubing.de")
    assert anna.legacy_id == "koop-anna" and anna.display_name == "Anna Muster"
    assert anna.legacy_hash is None and anna.password_hash.startswith("$argon2id$")


def test_json_lines_and_a_broken_file(app, runner, altstadt, tmp_path):
    path = tmp_path / "koop.jsonl"
    path.write_text(json.dumps(person("argon2id")) + "\nnot json\n" + json.dumps(
        {"vhs": "altstadt"}) + "\n")
    output = run(runner, "accounts", "import", str(path), code=3)
    assert "altstadt: new 1, updated 0, unchanged 0, refused 1" in output
    assert "refused line 2 (-, -): not a line of the format" in output
    assert "refused line 3 (altstadt, -): fields missing: email, name" in output
    broken = tmp_path / "broken.csv"
    broken.write_text("vhs,email\naltstadt,a@b.de\n")
    assert "the header row lacks name, legacy_id, password_hash, state" in run(
        runner, "accounts", "import", str(broken), code=1)


def test_an_address_the_portal_owns_is_refused(app, runner, altstadt, tmp_path):
    portal = PortalSimulator([{"email": "bcrypt-2b@vhs-altstadt.de", "id": "7",
                               "password_hash": passwords_hash(app)}],
                             "portal-credential-0123456789").start()
    try:
        run(runner, "vhs", "set-portal", "altstadt", "--base-url", portal.url,
            "--credential-stdin", input="portal-credential-0123456789\n")
        output = run(runner, "accounts", "import", write_csv(
            tmp_path / "p.csv", [person("bcrypt-2b"), person("sha256-crypt")]), code=3)
    finally:
        portal.stop()
    assert "altstadt: new 1, updated 0, unchanged 0, refused 1" in output
    assert "itm:PORTAL has a login for this address (the person keeps it)" in output


def passwords_hash(app) -> str:
    with app.app_context():
        return passwords().hash("anything-else-123")


@pytest.mark.parametrize("configured", ["globally", "for the VHS"])
def test_the_old_login_confirms_an_account_without_hash_once(make_app, tmp_path, configured):
    old_login = PortalSimulator([{"email": "ohne-hash@vhs-altstadt.de", "id": "koop-1",
                                  "password_hash": formats.argon2.hash(OLD)}],
                                "old-login-credential-0123").start()
    try:
        app = make_app(LEGACY_LOGIN_URL=old_login.url,
                       LEGACY_LOGIN_CREDENTIAL="old-login-credential-0123") \
            if configured == "globally" else make_app()
        runner = cli_runner(app)
        run(runner, "vhs", "add", "altstadt", "--name", "vhs Altstadt", "--onboarded")
        if configured == "for the VHS":
            run(runner, "vhs", "set-legacy-login", "altstadt", "--base-url", old_login.url,
                "--credential-stdin", input="old-login-credential-0123\n")
        run(runner, "accounts", "import", write_csv(tmp_path / "o.csv", [person("ohne-hash")]))
        client = app.test_client()
        assert post_login(client, "altstadt", "ohne-hash@vhs-altstadt.de",
                          "falsch-falsch").status_code == 401
        asked = old_login.requests
        assert post_login(client, "altstadt", "ohne-hash@vhs-altstadt.de", OLD).status_code == 303
        assert old_login.requests == asked + 1
        assert account_of(app, "ohne-hash@vhs-altstadt.de").password_hash.startswith(
            "$argon2id$")
        old_login.mode = "error"  # never asked again: the password is ours now
        assert post_login(app.test_client(), "altstadt", "ohne-hash@vhs-altstadt.de",
                          OLD).status_code == 303
        assert old_login.requests == asked + 1
    finally:
        old_login.stop()


def test_welcome_mails_go_once_with_a_link_for_who_has_no_hash(app, runner, altstadt,
                                                                tmp_path):
    path = write_csv(tmp_path / "koop.csv", [person("argon2id"), person("ohne-hash")])
    output = run(runner, "accounts", "import", path, "--notify")
    assert "altstadt: 2 welcome mails queued" in output
    assert "altstadt: 0 welcome mails queued" in run(runner, "accounts", "import", path,
                                                      "--notify")
    with app.app_context():
        mails = {m.recipient: m for m in db.session().scalars(
            select(OutboxMail).where(OutboxMail.kind == "welcome"))}
    assert set(mails) == {"argon2id@vhs-altstadt.de", "ohne-hash@vhs-altstadt.de"}
    with_hash, without = (mails[f"{n}@vhs-altstadt.de"].text_body
                          for n in ("argon2id", "ohne-hash"))
    assert "Ihr Passwort bleibt dasselbe" in with_hash and "/zugang/aktivieren" not in with_hash
    assert "/zugang/aktivieren" in without and "Ihr Passwort bleibt dasselbe" not in without


def test_legacy_id_reaches_only_the_clients_registered_for_it(live, browser, tmp_path):
    live.cli("vhs", "add", "altstadt", "--name", "vhs Altstadt", "--onboarded")
    path = write_csv(tmp_path / "koop.csv", [person("bcrypt-2y")])
    live.cli("accounts", "import", path)
    add_client(live, "vhskoop", "--public", "--first-party", "--release-legacy-id")
    add_client(live, "feedback", "--public", "--first-party")
    for client_id, expected in (("vhskoop", "koop-bcrypt-2y"), ("feedback", None)):
        rp = RelyingParty(live.url, client_id)
        response = browser.authorize(rp.authorization_url(), "altstadt",
                                     "bcrypt-2y@vhs-altstadt.de", OLD)
        assert response.headers["Location"].startswith(CALLBACK), response.text
        assert "code" in query(response.headers["Location"])
        token = rp.fetch_token(response.headers["Location"])
        assert rp.verify_id_token(token).get("legacy_id") == expected
        info = requests.get(rp.metadata["userinfo_endpoint"], timeout=10, headers={
            "Authorization": f"Bearer {token['access_token']}"}).json()
        assert info.get("legacy_id") == expected and info["sub"]


def test_a_wrong_password_for_an_imported_hash_takes_at_least_an_argon2id_check(app):
    with app.app_context():
        hasher = passwords()
        cheap = formats.sha256_crypt.using(rounds=1000).hash(OLD)
        assert hasher.verify_imported(cheap, "falsch") is False  # times one first if need be
        floor = hasher.floor.seconds()
        assert floor > 0.001  # an Argon2id verification, not a SHA-256-crypt one
        started = time.perf_counter()
        assert hasher.verify_imported(cheap, "falsch") is False
        assert time.perf_counter() - started >= floor


def test_the_way_back_exports_who_changed_here_in_the_import_format(app, runner, altstadt,
                                                                      tmp_path):
    run(runner, "accounts", "import", write_csv(tmp_path / "koop.csv", every_person()))
    assert post_login(app.test_client(), "altstadt", "sha512-crypt@vhs-altstadt.de",
                      OLD).status_code == 303
    out = tmp_path / "back.csv"
    assert "exported 1 accounts" in run(runner, "accounts", "export", str(out),
                                        "--vhs", "altstadt")
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == FIELDS
    assert [row["email"] for row in rows] == ["sha512-crypt@vhs-altstadt.de"]
    assert rows[0]["legacy_id"] == "koop-sha512-crypt"
    assert rows[0]["password_hash"].startswith("$argon2id$")
    # the export imports again as it is: the account is unchanged
    assert "unchanged 1, refused 0" in run(runner, "accounts", "import", str(out))
    everyone = tmp_path / "all.csv"
    assert "exported 12 accounts" in run(runner, "accounts", "export", str(everyone), "--all")


def test_a_last_login_in_the_future_does_not_count_as_a_sign_in_here(app, runner, altstadt,
                                                                      tmp_path):
    row = person("argon2id", last_login_at="2099-01-01T00:00:00Z")
    run(runner, "accounts", "import", write_csv(tmp_path / "a.csv", [row]))
    output = run(runner, "accounts", "import", write_csv(tmp_path / "b.csv", [
        dict(row, name="Neuer Name")]))
    assert "altstadt: new 0, updated 1" in output
    assert account_of(app, "argon2id@vhs-altstadt.de").display_name == "Neuer Name"


def test_a_row_with_more_fields_than_the_header_is_named_and_refusals_exit_3(
        app, runner, altstadt, tmp_path):
    """An Argon2 hash written without quotes splits at its commas: the row is refused as
    what it is, the other rows are imported, and the exit status tells a script."""
    header = ",".join(FIELDS[:6])
    unquoted = ("altstadt,split@vhs-altstadt.de,Person split,koop-split,"
                + FORMATS["argon2id"] + ",active")
    assert unquoted.count(",") == 7  # two commas inside the hash
    good = "altstadt,good@vhs-altstadt.de,Person good,koop-good,,active"
    path = tmp_path / "koop.csv"
    path.write_text("\n".join((header, unquoted, good)) + "\n", encoding="utf-8")
    before = counts(app)["accounts"]
    output = run(runner, "accounts", "import", str(path), code=3)
    assert ("refused line 2 (altstadt, split@vhs-altstadt.de): 8 fields, the header has 6: "
            "quote a value that holds a comma") in output
    assert "altstadt: new 1, updated 0, unchanged 0, refused 1" in output
    assert counts(app)["accounts"] == before + 1  # the good line was taken
    assert run(runner, "accounts", "import", str(path), "--dry-run", code=3)
    path.write_text("\n".join((header, good)) + "\n", encoding="utf-8")
    assert "unchanged 1, refused 0" in run(runner, "accounts", "import", str(path))  # exit 0


def test_a_formula_like_name_is_exported_as_text_and_imported_back_unchanged(
        app, runner, altstadt, tmp_path):
    names = ['=HYPERLINK("http://evil.example/","klick")', "+49 871 1234", "-minus",
             "@at", "'=already quoted", "\tTab"]
    rows = [person(f"f{number}", name=name, password_hash="")
            for number, name in enumerate(names)]
    run(runner, "accounts", "import", write_csv(tmp_path / "in.csv", rows))
    first = _names(app)
    assert first["f0@vhs-altstadt.de"] == names[0]
    assert first["f4@vhs-altstadt.de"] == "=already quoted"  # an apostrophe escapes, as read
    out = tmp_path / "out.csv"
    run(runner, "accounts", "export", str(out), "--all", "--vhs", "altstadt")
    cells = {row["email"]: row["name"] for row in csv.DictReader(out.open(encoding="utf-8"))}
    assert cells["f0@vhs-altstadt.de"] == "'" + names[0]  # a spreadsheet shows text
    assert not any(cell[:1] in "=+-@\t" for cell in cells.values())
    with app.app_context():  # a different name, so that the import updates it back
        db.session().execute(Account.__table__.update().where(
            Account.address.like("f%@vhs-altstadt.de")).values(display_name="changed"))
        db.session().commit()
    assert "altstadt: new 0, updated 6, unchanged 0, refused 0" in run(
        runner, "accounts", "import", str(out))
    assert _names(app) == first  # each name back as it was


def _names(app) -> dict:
    with app.app_context():
        rows = db.session().execute(select(Account.address, Account.display_name).where(
            Account.address.like("f%@vhs-altstadt.de"))).all()
        return {address: name for address, name in rows}
