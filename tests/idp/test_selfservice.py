"""Self-service against a real SMTP server on loopback: every branch, links, outages."""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update

from idp import db, mail
from idp.models import Account, AccountToken, OutboxMail, Vhs

from ..helpers import (
    CALLBACK,
    PASSWORD,
    add_client,
    assert_signed_in_anew,
    cookie,
    deliver,
    form_field,
    give_totp,
    link_in,
    open_reset_link,
    plant_browser_session,
    post_login,
    run,
    second_step,
    submit,
    totp_code,
    write_config,
)
from ..worlds import closed_port

SENDER = "info@vhs-straubing.de"


@pytest.fixture
def vhs(runner, kufer_world, smtp, tmp_path):
    """VHS straubing on the KuferSQL world, sending through the loopback SMTP server."""
    config = write_config(tmp_path, url=kufer_world["url"], mandant="1")
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded",
        "--adapter", "kufersql", "--adapter-config", config)
    run(runner, "vhs", "set-mail", "straubing", "--host", "127.0.0.1", "--port", str(smtp.port),
        "--security", "none", "--sender", SENDER)
    return kufer_world["url"]





def outbox_count(app) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(OutboxMail))


def test_new_access_page_has_the_help_pages_words(client, vhs):
    page = client.get("/neuer-zugang").get_data(as_text=True)
    for words in ["Neuer Zugang", "Bitte VHS auswählen", "E-Mail-Adresse",
                  "Abschicken", "Zurück", "Geben Sie hier die E-Mail-Adresse ein, die bei "
                  "Ihrer VHS hinterlegt ist."]:
        assert words in page


def test_eligible_person_gets_one_activation_mail_from_the_vhs_server(app, client, vhs, smtp):
    response = submit(client, "/neuer-zugang", "Anna.Muster@vhs-straubing.de")
    assert response.status_code == 200
    assert "Wenn diese Adresse bei der gewählten VHS hinterlegt ist" in response.get_data(
        as_text=True)
    assert deliver(app)["delivered"] == 1
    [message] = smtp.messages
    assert message["From"] == SENDER and message["To"] == "anna.muster@vhs-straubing.de"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@127.0.0.1>") and message["Date"]  # the issuer
    assert message.get_body(("html",)) is not None
    assert link_in(message).startswith(app.config["ISSUER"] + "/zugang/aktivieren?token=")
    with app.app_context():
        account = db.session().scalar(select(Account))
        assert account.status == "pending" and account.display_name == "Anna Muster"


@pytest.mark.parametrize(("email", "words"), [
    ("bernd@vhs-straubing.de", "Der Login wurde nicht für den Außenstellen Login freigegeben."),
    ("niemand@vhs-straubing.de", "nicht für einen Zugang hinterlegt"),  # unknown
    ("carla@vhs-straubing.de", "nicht für einen Zugang hinterlegt"),  # not active
    ("erik@vhs-straubing.de", "nicht für einen Zugang hinterlegt"),  # another Mandant
])
def test_each_decision_gets_its_mail(app, client, vhs, smtp, email, words):
    assert submit(client, "/neuer-zugang", email).status_code == 200
    deliver(app)
    [message] = smtp.messages
    text = message.get_body(("plain",)).get_content()
    assert words in text and "meine Daten und Einstellungen" in text
    assert message["To"] == email
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Account)) == 0


def test_an_unknown_address_is_told_at_most_once_a_day(app, client, vhs, smtp):
    for _ in range(2):
        submit(client, "/neuer-zugang", "niemand@vhs-straubing.de")
    deliver(app)
    assert len(smtp.messages) == 1
    app.config["CLOCK"] = lambda: time.time() + 86400 + 60
    submit(client, "/neuer-zugang", "niemand@vhs-straubing.de")
    deliver(app)
    assert len(smtp.messages) == 2


@pytest.mark.parametrize(("path"), ["/neuer-zugang", "/passwort-vergessen", "/hilfe/bitten"])
@pytest.mark.parametrize(("email", "words"), [
    ("kein-at-zeichen", "genau ein @-Zeichen"),
    ("name@", "Nach dem @-Zeichen fehlt die Domain"),
    ("a b@c.de", "enthält ein Leerzeichen"),
    ("neu@vhs-musterstadt", "Domain mit Punkt"),
    ("x" * 2000, "zu lang"),
    ("", "Bitte geben Sie Ihre E-Mail-Adresse ein."),
])
def test_a_malformed_address_gets_a_field_error_and_nothing_happens(app, client, vhs, smtp,
                                                                   path, email, words):
    response = submit(client, path, email)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and words in page
    assert 'id="error-summary"' in page and 'href="#email"' in page
    assert re.search(r'<input[^>]*aria-describedby="email-error"[^>]*aria-invalid="true"', page)
    assert "Bitte sehen Sie in Ihr Postfach" not in page and outbox_count(app) == 0


def test_every_problem_of_a_form_is_shown_at_once(client, vhs):
    page = submit(client, "/neuer-zugang", "name@", tenant="").get_data(as_text=True)
    assert "Bitte wählen Sie Ihre VHS aus." in page and "fehlt die Domain" in page
    assert page.count('class="field-error"') == 2


def test_an_active_account_gets_a_pointer_to_login(app, client, runner, vhs, smtp):
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
    submit(client, "/neuer-zugang", "anna.muster@vhs-straubing.de")
    deliver(app)
    [message] = smtp.messages
    assert "bereits ein aktiver Zugang" in message.get_body(("plain",)).get_content()
    assert message["Subject"] == "Ihr Zugang zum Kooperationsportal vhsKOOP besteht bereits"


def test_kma_without_link_gets_the_support_ticket_mail(app, client, runner, kufer_world,
                                                       smtp, tmp_path):
    path = tmp_path / "kma.toml"
    path.write_text(f'program = "kufersql"\n[program_options]\nurl = "{kufer_world["url"]}"\n')
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded",
        "--adapter", "kma", "--adapter-config", str(path))
    run(runner, "vhs", "set-mail", "straubing", "--host", "127.0.0.1", "--port", str(smtp.port),
        "--security", "none", "--sender", SENDER)
    submit(client, "/neuer-zugang", "anna.muster@vhs-straubing.de")
    deliver(app)
    [message] = smtp.messages
    assert "Technik-Support-Ticket" in message.get_body(("plain",)).get_content()


def test_unreachable_program_says_so_and_stores_nothing(app, client, runner, smtp, tmp_path):
    config = write_config(tmp_path, url=f"postgresql+psycopg://x@127.0.0.1:{closed_port()}/x")
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded",
        "--adapter", "kufersql", "--adapter-config", config)
    response = submit(client, "/neuer-zugang", "anna.muster@vhs-straubing.de")
    assert response.status_code == 503
    assert "Der Zugang konnte nicht angefordert werden." in response.get_data(as_text=True)
    assert outbox_count(app) == 0


def test_repeated_requests_pile_up_nothing(app, client, vhs, smtp):
    for _ in range(3):
        submit(client, "/neuer-zugang", "anna.muster@vhs-straubing.de")
        submit(client, "/neuer-zugang", "bernd@vhs-straubing.de")
    deliver(app)
    assert len(smtp.to("anna.muster@vhs-straubing.de")) == 1
    assert len(smtp.to("bernd@vhs-straubing.de")) == 1
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Account)) == 1


def neutral(response) -> tuple:
    body = re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', "",
                  response.get_data(as_text=True))
    body = re.sub(r'nonce="[^"]*"|nonce-[\w-]+', "", body)
    headers = tuple(sorted((k, v) for k, v in response.headers.items()
                           if k not in ("Set-Cookie", "Content-Security-Policy",
                                        "X-Request-Id")))
    return response.status_code, body, headers


@pytest.mark.parametrize("path", ["/neuer-zugang", "/passwort-vergessen", "/hilfe/bitten"])
def test_known_and_unknown_addresses_get_identical_answers(client, runner, vhs, path):
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
    answers = {neutral(submit(client, path, email)) for email in (
        "anna.muster@vhs-straubing.de", "bernd@vhs-straubing.de", "niemand@vhs-straubing.de",
        "carla@vhs-straubing.de")}
    assert len(answers) == 1


def activate(client, link, password=PASSWORD, confirm=None):
    page = client.get(link.split("127.0.0.1:5000", 1)[-1])
    assert page.status_code == 200, page.get_data(as_text=True)
    text = page.get_data(as_text=True)
    return client.post(link.split("127.0.0.1:5000", 1)[-1], data={
        "csrf_token": form_field(text, "csrf_token"), "token": form_field(text, "token"),
        "password": password, "confirm": password if confirm is None else confirm})


def test_activation_sets_the_password_signs_in_and_the_link_is_single_use(app, client, vhs,
                                                                          smtp):
    submit(client, "/neuer-zugang", "anna.muster@vhs-straubing.de")
    deliver(app)
    link = link_in(smtp.messages[0])
    done = activate(client, link)
    assert done.status_code == 200 and "Sie sind angemeldet" in done.get_data(as_text=True)
    assert "anna.muster@vhs-straubing.de" in client.get("/").get_data(as_text=True)
    again = client.get(link.split("127.0.0.1:5000", 1)[-1])
    assert again.status_code == 410  # a second click: the account is active already
    assert "Ihr Zugang ist schon aktiv" in again.get_data(as_text=True)
    assert 'href="/login"' in again.get_data(as_text=True)
    assert post_login(app.test_client()).status_code == 303


def test_activation_renews_the_session_and_voids_reset_links(app, client, runner, vhs, smtp):
    run(runner, "accounts", "add", "--vhs", "straubing", "--email", "dora@vhs-straubing.de",
        "--password-stdin", input=PASSWORD + "\n")
    assert post_login(client, email="dora@vhs-straubing.de").status_code == 303
    old_sso = cookie(client, "idp_sso")  # someone else used this browser before
    submit(client, "/neuer-zugang", "anna.muster@vhs-straubing.de")
    deliver(app)
    reset_link = open_reset_link(app, "straubing", "anna.muster@vhs-straubing.de")
    plant_browser_session(app, client.set_cookie)
    assert activate(client, link_in(smtp.messages[0])).status_code == 200
    assert_signed_in_anew(app, old_sso, cookie(client, "idp_sso"),
                          cookie(client, "idp_session"), reset_link)
    assert "anna.muster@vhs-straubing.de" in client.get("/").get_data(as_text=True)


def test_a_reset_renews_the_session(app, client, runner, vhs, smtp):
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
    assert post_login(client).status_code == 303
    old_sso = cookie(client, "idp_sso")
    submit(client, "/passwort-vergessen", "anna.muster@vhs-straubing.de")
    deliver(app)
    plant_browser_session(app, client.set_cookie)
    with app.app_context():
        reset_link = db.session().scalar(select(func.max(AccountToken.id)))
    assert activate(client, link_in(smtp.messages[0]), "ein ganz neues Passwort"
                    ).status_code == 200
    assert_signed_in_anew(app, old_sso, cookie(client, "idp_sso"),
                          cookie(client, "idp_session"), reset_link)


@pytest.mark.parametrize(("password", "confirm", "words"), [
    ("kurz", None, "mindestens 12 Zeichen"),
    ("Passwort2024!!", None, "sehr verbreitet"),
    ("hallohallohallo", None, "sehr verbreitet"),
    ("123456789012345", None, "sehr verbreitet"),
    ("anna.muster-ist-super", None, "ohne sie muss es noch mindestens 12 Zeichen haben"),
    ("ich-liebe-straubing", None, "ohne sie muss es noch mindestens 12 Zeichen haben"),
    ("ein langer guter Satz", "ein anderer Satz", "stimmen nicht überein"),
])
def test_password_rules_explain(app, client, vhs, smtp, password, confirm, words):
    submit(client, "/neuer-zugang", "anna.muster@vhs-straubing.de")
    deliver(app)
    refused = activate(client, link_in(smtp.messages[0]), password, confirm)
    assert refused.status_code == 400 and words in refused.get_data(as_text=True)


def test_expired_and_voided_links(app, client, vhs, smtp):
    app.config["MAIL_INTERVAL_SECONDS"] = 0
    submit(client, "/neuer-zugang", "anna.muster@vhs-straubing.de")
    submit(client, "/neuer-zugang", "anna.muster@vhs-straubing.de")
    deliver(app)
    first, second = (link_in(m) for m in smtp.messages)
    voided = client.get(first.split("127.0.0.1:5000", 1)[-1])
    assert voided.status_code == 410 and "neuerer Link" in voided.get_data(as_text=True)
    with app.app_context():
        db.session().execute(update(AccountToken).values(expires_at=1))
        db.session().commit()
    expired = client.get(second.split("127.0.0.1:5000", 1)[-1])
    assert expired.status_code == 410 and "abgelaufen" in expired.get_data(as_text=True)
    assert client.get("/zugang/aktivieren?token=nonsense").status_code == 410


def test_reset_ends_sessions_revokes_and_notifies(app, client, runner, vhs, smtp):
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
    other_browser = app.test_client()
    assert post_login(other_browser).status_code == 303
    assert submit(client, "/passwort-vergessen", "niemand@vhs-straubing.de").status_code == 200
    submit(client, "/passwort-vergessen", "anna.muster@vhs-straubing.de")
    deliver(app)
    [message] = smtp.messages
    link = link_in(message)
    assert link.startswith(app.config["ISSUER"] + "/passwort-neu?token=")
    assert activate(client, link, "ein ganz neues Passwort").status_code == 200
    assert "Sie sind angemeldet" not in other_browser.get("/").get_data(as_text=True)
    deliver(app)
    assert "wurde soeben geändert" in smtp.messages[-1].get_body(("plain",)).get_content()
    assert post_login(app.test_client()).status_code == 401  # the old password is gone
    assert post_login(app.test_client(), password="ein ganz neues Passwort").status_code == 303


def test_passwort_vergessen_never_removes_a_second_factor(app, client, runner, vhs, smtp):
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
    key = give_totp(app, "anna.muster@vhs-straubing.de")
    submit(client, "/passwort-vergessen", "anna.muster@vhs-straubing.de")
    deliver(app)
    [reset] = [m for m in smtp.messages if "Neues Passwort" in m["Subject"]]
    done = activate(client, link_in(reset), "ein ganz neues Passwort")
    assert done.status_code == 303 and done.headers["Location"] == "/login/zweiter-schritt"
    assert "Sie sind angemeldet" not in client.get("/").get_data(as_text=True)
    finished = second_step(client, totp_code(app, "anna.muster@vhs-straubing.de", key))
    assert finished.status_code == 303
    assert "Sie sind angemeldet" in client.get("/").get_data(as_text=True)


def test_a_login_voids_the_reset_link(app, client, runner, vhs, smtp):
    run(runner, "accounts", "add", "--vhs", "straubing", "--email",
        "anna.muster@vhs-straubing.de", "--password-stdin", input=PASSWORD + "\n")
    submit(client, "/passwort-vergessen", "anna.muster@vhs-straubing.de")
    deliver(app)
    assert post_login(app.test_client()).status_code == 303
    assert client.get(link_in(smtp.messages[0]).split("127.0.0.1:5000", 1)[-1]).status_code == 410


def test_mail_server_outage_loses_nothing_and_sends_once(app, client, vhs, smtp):
    smtp.stop()
    for address in ("anna.muster@vhs-straubing.de", "bernd@vhs-straubing.de"):
        submit(client, "/neuer-zugang", address)
    assert deliver(app)["retried"] == 2
    smtp.start()
    assert deliver(app)["delivered"] == 0  # back-off: not due yet
    with app.app_context():
        db.session().execute(update(OutboxMail).values(next_attempt_at=0))
        db.session().commit()
    assert deliver(app)["delivered"] == 2
    assert deliver(app) == {"delivered": 0, "retried": 0, "failed": 0, "waiting": 0}
    assert len(smtp.messages) == 2


def test_mails_give_up_after_the_configured_time(app, client, vhs, smtp):
    smtp.stop()
    submit(client, "/neuer-zugang", "anna.muster@vhs-straubing.de")
    app.config["MAIL_GIVE_UP_SECONDS"] = 0
    assert deliver(app)["failed"] == 1
    with app.app_context():
        row = db.session().scalar(select(OutboxMail))
        assert row.failed_at and "ConnectionRefusedError" in row.last_error


def test_without_mail_settings_mails_wait(app, client, runner, vhs, smtp):
    with app.app_context():
        db.session().execute(update(Vhs).values(mail_config=None))
        db.session().commit()
    assert "mail: NOT SET" in run(runner, "vhs", "list")
    submit(client, "/neuer-zugang", "anna.muster@vhs-straubing.de")
    assert deliver(app)["waiting"] == 1 and smtp.messages == []


def test_two_workers_never_send_a_mail_twice(make_app, vhs, smtp):
    app = make_app()
    with app.app_context():
        straubing = db.session().scalar(select(Vhs))
        for number in range(30):
            mail.enqueue(straubing, f"person{number}@vhs-straubing.de", "test", "Test")
        db.session().commit()
    workers = [make_app(), make_app()]
    threads = [threading.Thread(target=deliver, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(ids) == 30 and len(set(ids)) == 30


@pytest.mark.parametrize("args", [
    ["--sender", "info@vhs-straubing.de\r\nBcc: evil@example.org"],
    ["--sender", "kein absender"],
    ["--sender", "info@vhs-straubing.de", "--host", "smtp.example.org\r\nX: y"],
    ["--sender", "info@vhs-straubing.de", "--port", "0"],
    ["--sender", "info@vhs-straubing.de", "--user", "nur-user"],
])
def test_mail_settings_refuse_injection_and_nonsense(runner, vhs, args):
    base = ["vhs", "set-mail", "straubing", "--host", "127.0.0.1", "--security", "none"]
    run(runner, *base, *args, code=1)


def test_header_injection_through_the_form_sends_nothing(app, client, vhs, smtp):
    for email in ("anna.muster@vhs-straubing.de\r\nBcc: evil@example.org",
                  "anna.muster@vhs-straubing.de\nSubject: x"):
        assert submit(client, "/neuer-zugang", email).status_code == 400
    assert outbox_count(app) == 0
    deliver(app)
    assert smtp.messages == []


def test_test_mail_command(runner, vhs, smtp):
    assert "handed to 127.0.0.1" in run(runner, "vhs", "test-mail", "straubing",
                                        "ich@vhs-straubing.de")
    assert smtp.to("ich@vhs-straubing.de")
    smtp.stop()
    assert "did not answer" in run(runner, "vhs", "test-mail", "straubing",
                                   "ich@vhs-straubing.de", code=1)


def ask_from_the_service(browser, rp) -> None:
    """"Neuer Zugang" for Anna, reached from the relying party's authorization request."""
    login_url = browser.get(rp.authorization_url()).headers["Location"]
    new_access = re.search(r'href="(/neuer-zugang[^"]*)"', browser.get(login_url).text)
    page = browser.get(new_access.group(1).replace("&amp;", "&")).text
    sent = browser.post("/neuer-zugang", {
        "csrf_token": form_field(page, "csrf_token"), "next": form_field(page, "next"),
        "tenant": "straubing", "email": "anna.muster@vhs-straubing.de"})
    assert "Bitte sehen Sie in Ihr Postfach" in sent.text


@pytest.fixture
def kufer_live(make_app, kufer_world, smtp, tmp_path):
    """A running provider with straubing on the KuferSQL world and its mail server."""
    from ..helpers import LiveServer

    live = LiveServer(make_app)
    config = write_config(tmp_path, url=kufer_world["url"], mandant="1")
    live.cli("vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded",
             "--adapter", "kufersql", "--adapter-config", config)
    live.cli("vhs", "set-mail", "straubing", "--host", "127.0.0.1", "--port",
             str(smtp.port), "--security", "none", "--sender", SENDER)
    yield live
    live.stop()


@pytest.mark.e2e
def test_from_new_access_through_the_mail_to_a_signed_in_relying_party(kufer_live, smtp):
    from ..helpers import Browser, RelyingParty

    live = kufer_live
    add_client(live, "vhskoop-web", "--public", "--first-party")
    rp = RelyingParty(live.url, "vhskoop-web")
    browser = Browser(live.url)
    ask_from_the_service(browser, rp)
    deliver(live.app)
    link = link_in(smtp.to("anna.muster@vhs-straubing.de")[0])
    assert link.startswith(live.url + "/zugang/aktivieren?token=")
    form = browser.get(link).text
    done = browser.post(link, {"csrf_token": form_field(form, "csrf_token"),
                               "token": form_field(form, "token"),
                               "password": "mein langes neues Passwort",
                               "confirm": "mein langes neues Passwort"})
    assert done.status_code == 303 and done.headers["Location"].startswith("/authorize?")
    callback = browser.get(done.headers["Location"]).headers["Location"]
    assert callback.startswith(CALLBACK)
    claims = rp.verify_id_token(rp.fetch_token(callback))
    assert claims["email"] == "anna.muster@vhs-straubing.de" and claims["email_verified"]


@pytest.mark.e2e
@pytest.mark.parametrize("entry", [None, "https://vhskoop.example/oidc/start"])
def test_a_link_opened_in_another_browser_goes_to_the_service_not_into_its_request(
        kufer_live, smtp, entry):
    """The second browser never sent the relying party's ``state``: resuming the request
    there would end on the service's error page. It is signed in and sent to the service's
    initiate-login URI (OIDC Core 4), or shown that its access is active."""
    from ..helpers import Browser, RelyingParty

    live = kufer_live
    add_client(live, "vhskoop-web", "--public", "--first-party", "--name", "vhsKOOP",
               "--home-uri", "https://vhskoop.example/",
               *(["--initiate-login-uri", entry] if entry else []))
    ask_from_the_service(Browser(live.url), RelyingParty(live.url, "vhskoop-web"))
    deliver(live.app)
    link = link_in(smtp.to("anna.muster@vhs-straubing.de")[0])
    phone = Browser(live.url)
    form = phone.get(link).text
    done = phone.post(link, {"csrf_token": form_field(form, "csrf_token"),
                             "token": form_field(form, "token"),
                             "password": "mein langes neues Passwort",
                             "confirm": "mein langes neues Passwort"})
    if entry:
        assert done.status_code == 303
        target = urlsplit(done.headers["Location"])
        assert f"{target.scheme}://{target.netloc}{target.path}" == entry
        assert parse_qs(target.query) == {
            "iss": [live.url], "login_hint": ["anna.muster@vhs-straubing.de"],
            "target_link_uri": ["https://vhskoop.example/"]}
    else:
        assert done.status_code == 200
        assert "Ihr Zugang ist aktiv" in done.text and "Sie sind angemeldet." in done.text
        assert 'href="https://vhskoop.example/">Weiter zu vhsKOOP' in done.text
    assert "/authorize" not in done.text + done.headers.get("Location", "")
    assert phone.get("/account").status_code == 200  # signed in, in the second browser


def test_mails_follow_the_language_the_person_chose(app, client, vhs, smtp):
    client.get("/neuer-zugang?lang=en")
    submit(client, "/neuer-zugang", "anna.muster@vhs-straubing.de")
    deliver(app)
    [message] = smtp.messages
    assert message["Subject"] == "Your vhsKOOP cooperation portal account"
    assert message["Content-Language"] == "en"
    assert "With this link you set your password" in message.get_body(("plain",)).get_content()


def test_diagnose_shows_mail_settings_and_the_last_mails(app, client, runner, vhs, smtp):
    submit(client, "/neuer-zugang", "bernd@vhs-straubing.de")
    deliver(app)
    output = run(runner, "diagnose", "--vhs", "straubing", "--email", "bernd@vhs-straubing.de",
                 code=1)
    assert "[ok]   the VHS's mail server is set" in output
    assert 'mail "note: "Im Internet anzeigen" is missing" of' in output
    assert ": delivered" in output
