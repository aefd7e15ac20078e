""""Meine VHS um Hilfe bitten": the mail's link opens a request, the VHS sees why in its
console, and once the program agrees the activation mail goes out by itself."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import create_engine, select, text, update

from idp import db, help
from idp.models import AuditEvent, HelpRequest, OutboxMail, now

from ..helpers import form_field, submit
from .test_console import ANNA, act, page_text, signed_in, world  # noqa: F401 - the fixture

CARLA = "carla@vhs-straubing.de"  # not active in the program: "not registered"


def mails(app, kind: str, to: str = CARLA) -> list[OutboxMail]:
    with app.app_context():
        return list(db.session().scalars(select(OutboxMail).where(
            OutboxMail.kind == kind, OutboxMail.recipient == to)))


def requests_of(app) -> list[HelpRequest]:
    with app.app_context():
        return list(db.session().scalars(select(HelpRequest).order_by(HelpRequest.id)))


def help_link(app) -> str:
    submit(app.test_client(), "/neuer-zugang", CARLA)
    body = mails(app, "not_registered")[0].text_body
    url = re.search(r"Meine VHS um Hilfe bitten: (\S+)", body).group(1)
    return url[len(urlsplit(url).scheme) + 3 + len(urlsplit(url).netloc):]


def ask(app, path: str, message: str = "Ich arbeite seit Mai hier.", client=None):
    client = client or app.test_client()
    page = client.get(path).get_data(as_text=True)
    return client.post("/hilfe/anfrage", data={"csrf_token": form_field(page, "csrf_token"),
                                               "t": form_field(page, "t"),
                                               "message": message})


def activate_in_program(kufer_world) -> None:
    engine = create_engine(kufer_world["url"])
    with engine.begin() as connection:
        connection.execute(text("UPDATE benutzer SET aktiv = 'J' WHERE id = 3"))
    engine.dispose()


def test_the_mail_offers_help_the_vhs_sees_it_and_a_fix_sends_the_activation_mail(
        app, world, kufer_world):  # noqa: F811
    path = help_link(app)
    page = app.test_client().get(path)
    assert page.status_code == 200
    words = page_text(page)
    assert "vhs Straubing" in words and CARLA in words
    sent = ask(app, path)
    assert sent.status_code == 200 and "Ihre Anfrage ist angekommen" in page_text(sent)
    assert ask(app, path, "noch einmal").status_code == 200  # one open request, not two
    [asked] = requests_of(app)
    assert asked.state == "open" and asked.message == "Ich arbeite seit Mai hier."
    assert "nicht aktiv" in asked.diagnosis
    admin = signed_in(app)
    console = page_text(admin.get("/admin/vhs/straubing/hilfe"))
    assert CARLA in console and "Ich arbeite seit Mai hier." in console and "offen" in console
    still = act(admin, "/admin/vhs/straubing/hilfe",
                f"/admin/vhs/straubing/hilfe/{asked.id}/pruefen")
    assert still.status_code == 303 and requests_of(app)[0].state == "open"
    assert "sagt weiterhin „im Verwaltungsprogramm nicht aktiv“" in page_text(
        admin.get("/admin/vhs/straubing/hilfe"))
    activate_in_program(kufer_world)  # the VHS fixes it in KuferSQL
    act(admin, "/admin/vhs/straubing/hilfe", f"/admin/vhs/straubing/hilfe/{asked.id}/pruefen")
    [solved] = requests_of(app)
    assert solved.state == "solved" and solved.closed_by == f"console:straubing/{ANNA}"
    assert len(mails(app, "activation")) == 1
    assert "gelöst" in page_text(admin.get("/admin/vhs/straubing/hilfe"))


def test_the_worker_rechecks_due_requests_and_solves_them(app, world, kufer_world):  # noqa: F811
    ask(app, help_link(app))
    with app.app_context():
        assert help.recheck_due() == {"checked": 0, "solved": 0}  # not due for 10 minutes
        db.session().execute(update(HelpRequest).values(next_check_at=now() - 1))
        db.session().commit()
        assert help.recheck_due() == {"checked": 1, "solved": 0}  # still inactive
        assert db.session().scalar(select(HelpRequest.next_check_at)) >= now() + 590
        activate_in_program(kufer_world)
        db.session().execute(update(HelpRequest).values(next_check_at=now() - 1))
        db.session().commit()
        assert help.recheck_due() == {"checked": 1, "solved": 1}
    [solved] = requests_of(app)
    assert solved.state == "solved" and solved.closed_by == "re-check"
    assert len(mails(app, "activation")) == 1
    with app.app_context():
        kinds = db.session().scalars(select(AuditEvent.reason).where(
            AuditEvent.kind == "help_closed")).all()
    assert kinds == ["solved"]


def test_a_request_unchanged_for_seven_days_expires(app, world):  # noqa: F811
    ask(app, help_link(app))
    with app.app_context():
        db.session().execute(update(HelpRequest).values(
            created_at=now() - 7 * 86400, next_check_at=now() - 1))
        db.session().commit()
        help.recheck_due()
    assert requests_of(app)[0].state == "expired"


def test_a_refusal_needs_a_reason_and_mails_it(app, world):  # noqa: F811
    ask(app, help_link(app))
    [asked] = requests_of(app)
    admin = signed_in(app)
    base = f"/admin/vhs/straubing/hilfe/{asked.id}"
    empty = act(admin, "/admin/vhs/straubing/hilfe", base + "/ablehnen", reason=" ")
    assert empty.status_code == 303 and requests_of(app)[0].state == "open"
    act(admin, "/admin/vhs/straubing/hilfe", base + "/ablehnen",
        reason="Sie sind seit März nicht mehr bei uns tätig.")
    assert requests_of(app)[0].state == "rejected"
    [mail] = mails(app, "help_rejected")
    assert "Sie sind seit März nicht mehr bei uns tätig." in mail.text_body


def test_a_forged_or_damaged_link_and_bad_input_change_nothing(app, world):  # noqa: F811
    path = help_link(app)
    assert app.test_client().get("/hilfe/anfrage?t=erfunden").status_code == 400
    assert app.test_client().get(path[:-3]).status_code == 400
    too_long = ask(app, path, "x" * 1001)
    assert too_long.status_code == 400 and "höchstens 1000 Zeichen" in page_text(too_long)
    token = re.search(r"t=([^&]+)", path).group(1)
    no_csrf = app.test_client().post("/hilfe/anfrage", data={"t": token, "message": "x"})
    assert no_csrf.status_code == 400
    assert requests_of(app) == []
