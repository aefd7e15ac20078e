# ruff: noqa: F811 - ``world`` is a fixture imported from test_console
"""The console names the accounts brought over from the old login as such ("übernommen",
with their id there), and filters them."""

from __future__ import annotations

from ..helpers import run
from .test_console import BERND, page_text, signed_in, world  # noqa: F401


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
