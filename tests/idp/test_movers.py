# ruff: noqa: F811 - ``world`` is a fixture imported from test_console
"""Movers, as stories on the KuferSQL world: the program keeps the person and changes the
address. The account is a mover, not a leaver: access stays, a mail at the new address
asks to confirm it, and following it moves the account there with the same ``sub``. A
whole VHS changing its mail domain ends as movers, not as a braked pass."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from sqlalchemy import func, select, text

from idp import db, eligibility, tenants
from idp.models import Account, OutboxMail, Status
from idp.passwords import passwords

from ..helpers import (
    PASSWORD,
    account_of,
    deliver,
    form_field,
    link_in,
    post_login,
    run,
    submit,
)
from ..worlds import closed_port
from .test_console import ANNA, BERND, DORA, page_text, signed_in, world  # noqa: F401
from .test_forgetting import _holding
from .test_leavers import SECRETS, _dora_at_two_services, _events, _pass, _program

NEW_DOMAIN = "straubing.vhs-bayern.de"
DORA_NEW = "dora.dreher@vhs-straubing.de"
STAFF = 50


def _known(app, runner) -> None:
    """A pass that stores the program's user id of each account (as any answer does)."""
    _all_due(app)
    _pass(runner)


def _dora_moves(app, runner, kufer_world) -> None:
    """The program gives Dora a new address (it knew her user id from a pass before), and
    the next pass finds her a mover."""
    _known(app, runner)
    _program(kufer_world, f"UPDATE benutzer SET email = '{DORA_NEW}' WHERE id = 4")
    _all_due(app)
    assert "1 moving" in _pass(runner)[0]


def _all_due(app) -> None:
    """Every account's last answer is older than the period: the next pass asks them all."""
    app.config["LIFECYCLE_CHECK_HOURS"] = 1
    with app.app_context():
        db.session().execute(text("UPDATE eligibility_checks SET checked_at = 0"))
        db.session().commit()


def _confirm(app, link: str):
    """Follow the mailed link and press the button, as the person would."""
    browser = app.test_client()
    page = browser.get(_path(link))
    assert page.status_code == 200, link
    return browser.post("/adresse-bestaetigen", data={
        "csrf_token": form_field(page.get_data(as_text=True), "csrf_token"),
        "token": form_field(page.get_data(as_text=True), "token")})


def _path(link: str) -> str:
    """The mailed link as the test client asks for it (path and query)."""
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def _moved_mails(app) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(OutboxMail).where(
            OutboxMail.kind == "moved"))


def _refresh(app, client_id: str, refresh_token: str):
    basic = base64.b64encode(f"{client_id}:{SECRETS[client_id]}".encode()).decode()
    return app.test_client().post("/token", headers={"Authorization": f"Basic {basic}"},
                                  data={"grant_type": "refresh_token",
                                        "refresh_token": refresh_token})


def test_a_whole_vhs_changing_its_mail_domain_ends_as_movers_with_the_same_subs(
        app, runner, world, kufer_world):
    smtp = world
    staff = [f"person{number}@vhs-straubing.de" for number in range(STAFF)]
    _program(kufer_world, "INSERT INTO benutzer (id, vorname, name, email, aktiv, "
             "internet_anzeigen, mandant) VALUES " + ", ".join(
                 f"({100 + n}, 'Person', 'Nr. {n}', '{address}', 'J', 'J', '1')"
                 for n, address in enumerate(staff)))
    with app.app_context():  # fifty colleagues with accounts, as "Neuer Zugang" left them
        straubing, hashed = tenants.find("straubing"), passwords().hash(PASSWORD)
        db.session().add_all([Account(vhs_id=straubing.id, address=address, status=Status.ACTIVE,
                                      password_hash=hashed, email_verified=True)
                              for address in staff])
        db.session().commit()
    people = [ANNA, DORA, *staff]
    subs = {address: account_of(app, address).sub for address in people}
    _all_due(app)
    assert _pass(runner) == ["straubing: 53 checked (52 yes, 1 no); 1 access ended, "
                             "0 moving, 0 back, 0 closed, 0 deleted"]  # Bernd, not released

    _program(kufer_world, f"UPDATE benutzer SET email = replace(email, '@vhs-straubing.de', "
                          f"'@{NEW_DOMAIN}')")
    _all_due(app)
    assert _pass(runner) == ["straubing: 53 checked (0 yes, 53 no); 0 access ended, "
                             "52 moving, 0 back, 0 closed, 0 deleted"]
    assert _events(app, "lifecycle_braked") == []  # movers are not leavers
    assert all(account_of(app, address).leaving_since is None for address in people)
    assert _moved_mails(app) == 52
    _all_due(app)  # the next pass: the links still work, so no second mail
    assert "52 moving" in _pass(runner)[0]
    assert _moved_mails(app) == 52

    while deliver(app)["delivered"]:  # fifty a round
        pass
    for address in people:
        new = address.replace("@vhs-straubing.de", f"@{NEW_DOMAIN}")
        [mail] = smtp.to(new)
        assert "Ihre Adresse hat sich geändert" in mail["Subject"]
        assert address in mail.get_body(("plain",)).get_content()  # the old one, named
        assert _confirm(app, link_in(mail)).status_code == 200
        moved = account_of(app, new)
        assert moved.sub == subs[address] and moved.moving_to is None
        assert account_of(app, address) is None
    assert len(_events(app, "account_moved")) == 52

    assert post_login(app.test_client(), email=f"person7@{NEW_DOMAIN}").status_code == 303
    assert post_login(app.test_client(), email="person7@vhs-straubing.de").status_code == 401
    _all_due(app)
    assert _pass(runner) == ["straubing: 53 checked (52 yes, 1 no); 0 access ended, "
                             "0 moving, 0 back, 0 closed, 0 deleted"]
    assert account_of(app, BERND).status == Status.ACTIVE  # one leaver, as before


def test_a_mover_keeps_access_until_she_confirms_and_the_services_see_the_new_address(
        app, runner, world, kufer_world):
    smtp = world
    browser, tokens = _dora_at_two_services(app, runner)
    dora = account_of(app, DORA)
    _program(kufer_world, f"UPDATE benutzer SET email = '{DORA_NEW}' WHERE id = 4")
    app.config["ELIGIBILITY_CACHE_SECONDS"] = 0  # her next sign-in asks the program

    assert post_login(app.test_client(), email=DORA).status_code == 303  # still in
    moving = account_of(app, DORA)
    assert moving.moving_to == DORA_NEW and moving.leaving_since is None
    assert [e.who for e in _events(app, "moving")] == [dora.sub]
    assert _events(app, "leaving") == []
    own = browser.get("/account")  # her session goes on, and tells her
    assert own.status_code == 200 and f"jetzt unter {DORA_NEW}" in page_text(own)
    assert _refresh(app, "vhskoop", tokens["vhskoop"]["refresh_token"]).status_code == 200

    console = signed_in(app)  # Anna, the administrator, sees her as moving
    person = page_text(console.get(f"/admin/vhs/straubing/people/{dora.id}"))
    assert "zieht um: das Verwaltungsprogramm führt die Person seit" in person
    assert DORA_NEW in person
    listed = page_text(console.get("/admin/vhs/straubing/people?state=moving"))
    assert DORA in listed and ANNA not in listed.split("<tbody")[-1]

    deliver(app)
    [mail] = smtp.to(DORA_NEW)
    link = link_in(mail)
    page = app.test_client().get(_path(link))
    assert DORA in page_text(page) and DORA_NEW in page_text(page)
    assert app.test_client().post("/adresse-bestaetigen", data={
        "token": form_field(page.get_data(as_text=True), "token")}).status_code == 400  # CSRF
    assert account_of(app, DORA) is not None  # a page opened is no move
    done = _confirm(app, link)
    assert done.status_code == 200 and "Adresse übernommen" in page_text(done)
    assert app.test_client().get(_path(link)).status_code == 410  # once only

    moved = account_of(app, DORA_NEW)
    assert (moved.id, moved.sub, moved.email_verified) == (dora.id, dora.sub, True)
    refreshed = _refresh(app, "feedback", tokens["feedback"]["refresh_token"]).get_json()
    userinfo = app.test_client().get("/userinfo", headers={
        "Authorization": f"Bearer {refreshed['access_token']}"}).get_json()
    assert (userinfo["sub"], userinfo["email"]) == (dora.sub, DORA_NEW)
    assert post_login(app.test_client(), email=DORA_NEW).status_code == 303
    assert post_login(app.test_client(), email=DORA).status_code == 401


def test_a_move_is_off_when_the_program_lists_the_old_address_again(app, runner, world,
                                                                    kufer_world):
    smtp = world
    _dora_moves(app, runner, kufer_world)
    deliver(app)
    [mail] = smtp.to(DORA_NEW)
    _program(kufer_world, "UPDATE benutzer SET email = 'dora@vhs-straubing.de' WHERE id = 4")
    _all_due(app)
    assert "0 moving" in _pass(runner)[0]
    assert account_of(app, DORA).moving_to is None
    gone = app.test_client().get(_path(link_in(mail)))
    assert gone.status_code == 410 and "bisherigen Adresse" in page_text(gone)


def test_a_user_at_an_address_another_account_holds_is_a_leaver_not_a_mover(
        app, runner, world, kufer_world):
    _known(app, runner)
    run(runner, "accounts", "add", "--vhs", "straubing", "--email", DORA_NEW,
        "--password-stdin", input=PASSWORD + "\n")
    _program(kufer_world, f"UPDATE benutzer SET email = '{DORA_NEW}' WHERE id = 4")
    _all_due(app)
    assert _pass(runner) == ["straubing: 4 checked (2 yes, 2 no); 1 access ended, "
                             "0 moving, 0 back, 0 closed, 0 deleted"]  # Dora (and Bernd)
    assert account_of(app, DORA).leaving_since is not None
    assert _moved_mails(app) == 0


def test_a_confirmation_the_program_no_longer_backs_changes_nothing(app, runner, world,
                                                                   kufer_world):
    smtp = world
    _dora_moves(app, runner, kufer_world)
    deliver(app)
    [mail] = smtp.to(DORA_NEW)
    link = link_in(mail)

    def program_at(url: str) -> None:
        with app.app_context():
            eligibility.configure(tenants.find("straubing"), "kufersql",
                                  {"url": url, "mandant": "1", "timeout": 2})
            db.session().commit()

    program_at(f"postgresql+psycopg://x@127.0.0.1:{closed_port()}/x")  # cannot be reached
    unavailable = _confirm(app, link)
    assert unavailable.status_code == 503 and "später" in page_text(unavailable)
    program_at(kufer_world["url"])

    _program(kufer_world, "UPDATE benutzer SET aktiv = 'N' WHERE id = 4")
    refused = _confirm(app, link)
    assert refused.status_code == 409 and "nicht (mehr)" in page_text(refused)
    assert account_of(app, DORA).address == DORA  # nothing moved
    assert account_of(app, DORA_NEW) is None


def test_a_mover_deleted_before_confirming_leaves_nothing_at_either_address(
        app, runner, world, kufer_world):
    dora = account_of(app, DORA)
    _dora_moves(app, runner, kufer_world)
    run(runner, "accounts", "delete", "--vhs", "straubing", "--email", DORA, "--yes")
    assert _holding(app, dora.id, (DORA, DORA_NEW, dora.sub)) == set()


def test_new_access_or_a_reset_for_the_new_address_sends_the_move_link_again(
        app, runner, world, kufer_world):
    smtp = world
    sub = account_of(app, DORA).sub
    _dora_moves(app, runner, kufer_world)
    app.config["MAIL_INTERVAL_SECONDS"] = 0  # not the once-a-minute limit of the test
    deliver(app)
    [first] = smtp.to(DORA_NEW)

    assert submit(app.test_client(), "/neuer-zugang", DORA_NEW).status_code == 200
    deliver(app)
    assert account_of(app, DORA_NEW) is None  # no second account waiting there
    assert app.test_client().get(_path(link_in(first))).status_code == 410  # a newer one
    assert submit(app.test_client(), "/passwort-vergessen", DORA_NEW).status_code == 200
    deliver(app)
    mails = smtp.to(DORA_NEW)
    assert [m["Subject"] for m in mails] == [first["Subject"]] * 3
    assert _confirm(app, link_in(mails[-1])).status_code == 200
    assert account_of(app, DORA_NEW).sub == sub
    assert account_of(app, DORA) is None
