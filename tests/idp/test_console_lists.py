# ruff: noqa: F811 - ``world`` is a fixture imported from test_console
"""The console's lists: ITEM's list of every VHS, found however a town is written and
filtered; the accounts brought over from the old login named as such ("übernommen", with
their id there) and filtered; and the login's list finds "Koeln" without JavaScript."""

from __future__ import annotations

from idp import db, tenants
from idp.sealing import unseal

from ..helpers import run
from .test_console import BERND, OPS, act, page_text, signed_in, world  # noqa: F401


def test_imported_accounts_are_marked_and_can_be_filtered(app, runner, world, tmp_path):
    path = tmp_path / "koop.csv"
    path.write_text("vhs,email,name,legacy_id,password_hash,state\n"
                    "straubing,alt@vhs-straubing.de,Alt Bestand,koop-4711,,active\n",
                    encoding="utf-8")
    run(runner, "accounts", "import", str(path))
    console = signed_in(app)
    listed = page_text(console.get("/admin/vhs/straubing/people"))
    assert "übernommen (koop-4711)" in listed
    only = page_text(console.get("/admin/vhs/straubing/people?source=imported"))
    body = only.split("<tbody")[-1]
    assert "alt@vhs-straubing.de" in body and BERND not in body


def test_item_finds_a_vhs_however_the_town_is_written_and_filters(app, runner, world):
    run(runner, "vhs", "add", "koeln", "--name", "vhs Köln")  # not in the login's list yet
    console = signed_in(app, OPS, tenant="item")
    for typed in ("Köln", "koeln", "KOLN", "Volkshochschule Köln"):
        body = page_text(console.get(f"/admin/?q={typed}")).split("<tbody")[-1]
        assert "vhs Köln" in body and "vhs Straubing" not in body, typed
    onboarded = page_text(console.get("/admin/?onboarded=1")).split("<tbody")[-1]
    assert "vhs Straubing" in onboarded and "vhs Köln" not in onboarded
    programs = page_text(console.get("/admin/?program=1")).split("<tbody")[-1]
    assert "vhs Straubing" in programs and "vhs Passau" not in programs  # no adapter
    assert "vhs Straubing" not in page_text(console.get("/admin/?open=1")).split("<tbody")[-1]


def test_the_login_list_finds_a_spelled_out_umlaut_without_javascript(app, runner, world):
    run(runner, "vhs", "add", "koeln", "--name", "vhs Köln", "--onboarded")
    page = app.test_client().get("/login").get_data(as_text=True)
    assert '>Köln (vhs)</option><option data-alias="1" value="koeln">Koeln (vhs)</option>' \
        in page


def test_the_program_settings_show_each_option_in_force_and_keep_the_secret(
        app, runner, world, kufer_world):
    console = signed_in(app, OPS, tenant="item")
    page = "/admin/vhs/straubing/settings"
    shown = console.get(page).get_data(as_text=True)
    assert 'name="option-timeout" value="5"' in shown  # the default in force
    assert 'name="option-mandant" value="1"' in shown
    assert kufer_world["url"] not in shown  # the database URL (a secret) is never shown
    assert "TOML" not in page_text(console.get(page))
    act(console, page, "/admin/vhs/straubing/settings/adapter", adapter="kufersql",
        **{"option-url": "", "option-timeout": "3", "option-mandant": "1",
           "option-email_columns": "email\nemail2", "option-scan_on_miss": "1"})
    with app.app_context():
        stored = unseal(tenants.find("straubing").adapter_config)
        db.session().rollback()
    assert stored["timeout"] == 3 and stored["url"] == kufer_world["url"]  # kept
    assert stored["email_columns"] == ["email", "email2"]
    refused = act(console, page, "/admin/vhs/straubing/settings/adapter", adapter="kufersql",
                  **{"option-timeout": "drei"})
    assert "no number" in page_text(console.get(refused.headers["Location"]))
