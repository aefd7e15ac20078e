"""The provider with a Verwaltungsprogramm: configuration, logins, refresh, grace, diagnose."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, select, text

from idp import db
from idp.models import Vhs

from ..helpers import PASSWORD, RelyingParty, add_client, post_login, run, write_config
from ..worlds import closed_port


def program_sql(url: str, statement: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.fixture
def kufer_vhs(runner, kufer_world, tmp_path):
    """VHS straubing on the KuferSQL world, with local accounts for Anna and Bernd."""
    config = write_config(tmp_path, url=kufer_world["url"], mandant="1")
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded",
        "--adapter", "kufersql", "--adapter-config", config)
    for address in ("anna.muster@vhs-straubing.de", "bernd@vhs-straubing.de",
                    "niemand@vhs-straubing.de"):
        run(runner, "accounts", "add", "--vhs", "straubing", "--email", address,
            "--password-stdin", input=PASSWORD + "\n")
    return kufer_world["url"]


def test_adapter_configuration_is_checked_and_stored_encrypted(app, runner, kufer_world,
                                                               tmp_path):
    bad = write_config(tmp_path, url=kufer_world["url"], colour="blue")
    output = run(runner, "vhs", "add", "straubing", "--name", "x", "--adapter", "kufersql",
                 "--adapter-config", bad, code=1)
    assert "VHS 'straubing', adapter 'kufersql': unknown option 'colour'" in output
    assert "straubing" not in run(runner, "vhs", "list")  # nothing half-written
    output = run(runner, "vhs", "add", "straubing", "--name", "x", "--adapter", "cmx", code=1)
    assert "'vhskoop_idp.adapters'" in output and "'cmx'" in output
    good = write_config(tmp_path, url=kufer_world["url"], mandant="1")
    run(runner, "vhs", "add", "straubing", "--name", "x", "--adapter", "kufersql",
        "--adapter-config", good)
    assert "adapter: kufersql" in run(runner, "vhs", "list")
    with app.app_context():
        stored = db.session().scalar(select(Vhs.adapter_config))
    assert kufer_world["url"] not in stored and "mandant" not in stored
    run(runner, "vhs", "set-adapter", "straubing", "--none")
    assert "adapter: none" in run(runner, "vhs", "list")


def test_only_eligible_people_log_in(make_app, kufer_vhs):
    client = make_app().test_client()
    assert post_login(client).status_code == 303
    for address in ("bernd@vhs-straubing.de", "niemand@vhs-straubing.de"):
        refused = post_login(client, email=address)
        assert refused.status_code == 401
        assert "Die Anmeldung ist fehlgeschlagen" in refused.get_data(as_text=True)


def test_deprovisioning_stops_the_next_login_and_the_next_refresh(make_app, kufer_vhs):
    from ..helpers import Browser, LiveServer

    live = LiveServer(make_app, ELIGIBILITY_CACHE_SECONDS=0)
    try:
        add_client(live, "spa", "--public", "--first-party")
        rp = RelyingParty(live.url, "spa")
        browser = Browser(live.url)
        token = rp.fetch_token(browser.authorize(
            rp.authorization_url(), "straubing", "anna.muster@vhs-straubing.de", PASSWORD
        ).headers["Location"])
        token = rp.refresh(token["refresh_token"])  # still eligible: works
        program_sql(kufer_vhs, "UPDATE benutzer SET internet_anzeigen = 'N' WHERE id = 1")
        with pytest.raises(Exception, match="invalid_grant"):
            rp.refresh(token["refresh_token"])
        fresh = Browser(live.url)
        response = fresh.login(None, "straubing", "anna.muster@vhs-straubing.de", PASSWORD)
        assert response.status_code == 401
    finally:
        live.stop()


def test_unreachable_program_within_and_outside_the_grace_period(make_app, kufer_vhs):
    within = make_app(ELIGIBILITY_CACHE_SECONDS=0).test_client()
    assert post_login(within).status_code == 303  # checked successfully: grace starts
    program_sql(kufer_vhs, "ALTER TABLE benutzer RENAME TO benutzer_weg")
    try:
        assert post_login(within).status_code == 303
        outside = make_app(ELIGIBILITY_CACHE_SECONDS=0, ELIGIBILITY_GRACE_SECONDS=0)
        refused = post_login(outside.test_client())
        assert refused.status_code == 503
        assert "kann gerade nicht bei Ihrer VHS geprüft werden" in refused.get_data(
            as_text=True)
    finally:
        program_sql(kufer_vhs, "ALTER TABLE benutzer_weg RENAME TO benutzer")


def test_a_vhs_without_adapter_admits_administrator_accounts(client, tenant):
    assert post_login(client).status_code == 303


def diagnose(runner, email, code):
    return run(runner, "diagnose", "--vhs", "straubing", "--email", email, code=code)


def test_diagnose_explains_each_case(runner, kufer_vhs):
    output = diagnose(runner, "anna.muster@vhs-straubing.de", 0)
    assert "[ok]   the address is stored as typed: user 1 (Anna Muster)" in output
    assert "local account: active" in output and "=> could get access" in output
    output = diagnose(runner, "bernd@vhs-straubing.de", 1)
    assert '[FAIL] "Im Internet anzeigen" is not set' in output
    assert "Der Login wurde nicht für den Außenstellen Login freigegeben." in output
    assert "[FAIL] the user is not active" in diagnose(runner, "carla@vhs-straubing.de", 1)
    output = diagnose(runner, "niemand@vhs-straubing.de", 1)
    assert "[FAIL] the address is not in the administration software" in output
    output = diagnose(runner, " Dora@vhs-straubing.de", 0)
    assert ("a space (U+0020) at position 1 of the typed address; a no-break space (U+00A0) "
            "at position 22 of the stored address - Correct the stored address") in output


def test_diagnose_when_the_program_is_unreachable_or_the_vhs_not_onboarded(runner, tmp_path):
    config = write_config(tmp_path, url=f"postgresql+psycopg://x@127.0.0.1:{closed_port()}/x")
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--adapter", "kufersql",
        "--adapter-config", config)
    output = diagnose(runner, "anna@vhs-straubing.de", 1)
    assert "[FAIL] vhs Straubing is not onboarded" in output
    assert "[FAIL] the administration software (KuferSQL) cannot be reached" in output
    assert "VHS 'nowhere' is unknown" in run(runner, "diagnose", "--vhs", "nowhere",
                                             "--email", "a@b.de", code=1)


def test_kma_links_and_their_diagnosis(make_app, runner, kufer_world, tmp_path):
    path = tmp_path / "kma.toml"
    path.write_text(f'program = "kufersql"\n[program_options]\nurl = "{kufer_world["url"]}"\n')
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded",
        "--adapter", "kma", "--adapter-config", str(path))
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
    output = diagnose(runner, "anna.muster@vhs-straubing.de", 1)
    assert "[FAIL] the Kursmanagement-APP link is missing" in output
    client = make_app().test_client()
    assert post_login(client).status_code == 401
    run(runner, "kma", "link", "--vhs", "straubing", "--email", "Anna.Muster@vhs-straubing.de")
    assert "straubing\tanna.muster@vhs-straubing.de" in run(runner, "kma", "list")
    assert "[ok]   the Kursmanagement-APP link is present" in diagnose(
        runner, "anna.muster@vhs-straubing.de", 0)
    assert post_login(client).status_code == 303
    run(runner, "kma", "unlink", "--vhs", "straubing", "--email", "anna.muster@vhs-straubing.de")
    run(runner, "kma", "unlink", "--vhs", "straubing", "--email", "anna.muster@vhs-straubing.de",
        code=1)


def test_directory_push_api(client, runner, tmp_path):
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded",
        "--adapter", "directory")
    token = run(runner, "vhs", "directory-token", "straubing").splitlines()[0].rsplit(" ", 1)[1]
    url = "/api/v1/vhs/straubing/directory"
    body = json.dumps([{"email": "anna@vhs-straubing.de", "id": 1, "released": False}])
    assert client.put(url, data=body, content_type="application/json").status_code == 401
    assert client.put(url, data=body, content_type="application/json",
                      headers={"Authorization": "Bearer wrong"}).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    answer = client.put(url, data=body, content_type="application/json", headers=auth)
    assert answer.status_code == 200 and answer.json["entries"] == 1
    assert '"Im Internet anzeigen" is not set' in diagnose(runner, "anna@vhs-straubing.de", 1)
    csv_body = "email,id,released\nanna@vhs-straubing.de,1,ja\n"
    assert client.put(url, data=csv_body, content_type="text/csv",
                      headers=auth).json["entries"] == 1
    assert "=> could get access" in diagnose(runner, "anna@vhs-straubing.de", 0)
    broken = client.put(url, data="[{]", content_type="application/json", headers=auth)
    assert broken.status_code == 400 and broken.json["error"] == "invalid_request"
    assert client.put(url, data="x", content_type="text/plain", headers=auth).status_code == 415
    assert "=> could get access" in diagnose(runner, "anna@vhs-straubing.de", 0)  # kept
    path = tmp_path / "users.csv"
    path.write_text("email\nbernd@vhs-straubing.de\n")
    assert "1 entries" in run(runner, "vhs", "import-directory", "straubing", str(path))
    assert "=> cannot get access" in diagnose(runner, "anna@vhs-straubing.de", 1)
