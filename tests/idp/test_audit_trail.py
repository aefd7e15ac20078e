# ruff: noqa: F811 - ``world`` is a fixture imported from test_console
"""The audit trail keeps who acted, in what role and for which VHS, as it was at the time:
a later change of role, address or account never changes what an event says."""

from __future__ import annotations

from ..helpers import run
from .test_console import ANNA, DORA, OPS, account, act, page_text, signed_in, world  # noqa: F401


def test_an_administrator_s_acts_keep_her_role_after_she_becomes_an_operator(app, runner,
                                                                             world):
    console = signed_in(app)
    dora = account(app, DORA)
    page = f"/admin/vhs/straubing/people/{dora.id}"
    act(console, page, f"{page}/disable", confirmed="1")
    as_admin = f"{ANNA}, Administration der vhs Straubing"
    assert as_admin in page_text(console.get(page))

    run(runner, "admins", "grant", "--vhs", "straubing", "--email", ANNA, "--operator")
    console = signed_in(app)
    act(console, page, f"{page}/enable")
    shown = page_text(console.get(page))
    assert as_admin in shown  # the earlier act, as it was
    assert f"{ANNA}, ITEM-Betrieb" in shown  # the new one
    lines = [line for line in run(runner, "audit", "--vhs", "straubing").splitlines()
             if "console:straubing/" in line and "accounts " in line]
    assert lines[0].endswith(f"{ANNA}, ITEM-Betrieb")  # newest first, the same words
    assert lines[-1].endswith(as_admin)


def test_the_audit_shows_people_by_name_and_the_gone_by_pseudonym(app, runner, world):

    run(runner, "accounts", "add", "--vhs", "straubing", "--email", "gone@vhs-straubing.de",
        "--password-stdin", input="richtig-langes-Passwort-1\n")
    gone = account(app, "gone@vhs-straubing.de")
    run(runner, "accounts", "delete", "--vhs", "straubing", "--email",
        "gone@vhs-straubing.de", "--yes")
    dora = account(app, DORA)
    console = signed_in(app)  # Anna disables Dora: an event about Dora
    page = f"/admin/vhs/straubing/people/{dora.id}"
    act(console, page, f"{page}/disable", confirmed="1")
    trail = signed_in(app, OPS, tenant="item").get("/admin/audit?tenant=straubing")
    shown = trail.get_data(as_text=True)
    assert f'<a href="/admin/vhs/straubing/people/{dora.id}">{DORA}</a>' in shown
    assert f"<code>{gone.sub[:12]}</code>" in shown  # deleted: only the pseudonym
