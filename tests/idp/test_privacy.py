"""The record of processing activities (GDPR Art. 30) and the privacy notice, made from the
running configuration and the models: ``privacy record``, the console's
"Verzeichnis der Verarbeitungstätigkeiten", ``/datenschutz``."""

from __future__ import annotations

import html
import re

from idp import claims, labels, privacy, tenants
from idp.cli import runner as cli_runner
from idp.models import Base
from idp.retention import PERIODS

from ..helpers import run
from .test_console import ANNA, act, console_events, page_text, signed_in, world  # noqa: F401


def _retention_rows(markdown: str) -> dict[str, str]:
    return dict((setting, period) for period, setting in re.findall(
        r"^\| [^|]+ \| ([^|]+) \| IDP_(\w+_DAYS) \|$", markdown, re.M))


def test_every_table_of_the_models_is_declared_personal_data_or_not():
    tables = set(Base.metadata.tables)
    assert set(privacy.DATA) | (set(privacy.NOT_PERSONAL) - {"alembic_version"}) == tables
    assert not set(privacy.DATA) & set(privacy.NOT_PERSONAL)
    assert set(labels.RETENTION) == set(PERIODS)


def test_the_record_lists_every_service_with_its_claims_and_every_period_in_force(
        make_app):
    app = make_app(AUDIT_DAYS=30, PRIVACY_CONTROLLER="vhsKOOP-Verbund, Musterweg 1, Bonn")
    runner = cli_runner(app)
    run(runner, "vhs", "add", "straubing", "--name", "vhs Straubing", "--onboarded")
    before = run(runner, "privacy", "record", "--vhs", "straubing")
    assert "itm:FEEDBACK" not in before
    assert _retention_rows(before) == {
        "AUDIT_DAYS": "nach 30 Tagen", "AUDIT_IP_DAYS": "nach 7 Tagen",
        "SESSIONS_DAYS": "nach 7 Tagen", "MAIL_DAYS": "nach 7 Tagen",
        "LOGOUT_NOTICE_DAYS": "nach 7 Tagen", "SSF_EVENT_DAYS": "nach 7 Tagen",
        "HELP_REQUEST_DAYS": "nach 90 Tagen",
        "PENDING_DAYS": "nach 7 Tagen", "INACTIVE_DAYS": "nach 395 Tagen",
        "LEAVER_DELETE_DAYS": "nach 90 Tagen"}
    assert "Verantwortlich: vhsKOOP-Verbund, Musterweg 1, Bonn" in before

    run(runner, "clients", "add", "feedback", "--name", "itm:FEEDBACK", "--redirect-uri",
        "https://feedback.example/cb", "--scope", "openid email")
    run(runner, "clients", "add", "koop", "--name", "vhsKOOP", "--redirect-uri",
        "https://koop.example/cb", "--scope", "openid profile email", "--release-legacy-id",
        "--backchannel-logout-uri", "https://koop.example/bc")
    after = run(runner, "privacy", "record", "--vhs", "straubing")
    assert "| Dienst itm:FEEDBACK | Kennung (sub), VHS, Name der VHS, E-Mail-Adresse, ob die " \
           "Adresse bestätigt ist |" in after
    assert "| Dienst vhsKOOP | Kennung (sub), VHS, Name der VHS, E-Mail-Adresse, ob die " \
           "Adresse bestätigt " \
           "ist, Name, bisherige vhsKOOP-Kennung; Abmeldenachrichten (Kennung und Sitzung) |" \
           in after
    assert "Übermittlung in Drittländer" in after and "Keine." in after

    english = run(runner, "privacy", "record", "--lang", "en", "--format", "html")
    assert english.startswith('<!doctype html>\n<html lang="en">')
    assert "Record of processing activities" in english and "after 30 days" in english
    assert "<td>itm:FEEDBACK service</td>" in html.unescape(english)
    assert set(labels.CLAIMS) == set(claims.supported()) & {
        name for names in claims.SCOPE_CLAIMS.values() for name in names}
    assert "--vhs" in run(runner, "privacy", "record", "--vhs", "gibt-es-nicht", code=2)


def test_a_vhs_enters_its_own_contacts_in_the_console_and_the_record_names_them(
        app, world):  # noqa: F811
    client = signed_in(app, ANNA)
    page = page_text(client.get("/admin/vhs/straubing/verzeichnis"))
    assert "Verzeichnis der Verarbeitungstätigkeiten" in page
    assert "Verantwortlich: noch nicht eingetragen" in page
    assert "Mailserver der VHS (127.0.0.1)" in page and "Verwaltungsprogramm der VHS " \
        "(KuferSQL)" in page

    answer = act(client, "/admin/vhs/straubing/verzeichnis",
                 "/admin/vhs/straubing/verzeichnis/kontakte",
                 controller="vhs Straubing, Am Platz 1, 94315 Straubing",
                 dpo="datenschutz@vhs-straubing.de")
    assert answer.status_code == 303
    page = page_text(client.get(answer.headers["Location"]))
    assert "Verantwortliche und Datenschutzbeauftragte sind gespeichert." in page
    assert "Verantwortlich: vhs Straubing, Am Platz 1, 94315 Straubing" in page
    assert [e.vhs for e in console_events(app, "vhs set-privacy")] == ["straubing"]
    download = client.get("/admin/vhs/straubing/verzeichnis.md")
    assert download.headers["Content-Disposition"] == \
        'attachment; filename="verzeichnis-straubing.md"'
    assert "datenschutz@vhs-straubing.de" in download.get_data(as_text=True)
    notice = page_text(client.get("/datenschutz?vhs=straubing"))
    assert "Datenschutzbeauftragte oder Datenschutzbeauftragter: datenschutz@vhs-straubing.de" \
        in notice

    too_long = act(client, "/admin/vhs/straubing/verzeichnis",
                   "/admin/vhs/straubing/verzeichnis/kontakte", controller="x" * 501, dpo="")
    assert "Höchstens 500 Zeichen." in page_text(client.get(too_long.headers["Location"]))
    with app.app_context():
        assert tenants.find("straubing").privacy_dpo == "datenschutz@vhs-straubing.de"
    assert len(console_events(app, "vhs set-privacy")) == 1


def test_vhs_set_privacy_on_the_command_line(app, runner, tenant):
    assert "controller entered, data protection officer as configured" in run(
        runner, "vhs", "set-privacy", "straubing", "--controller", "vhs Straubing")
    assert "Verantwortlich: vhs Straubing" in run(runner, "privacy", "record", "--vhs",
                                                  "straubing")
    assert "Höchstens 500" in run(runner, "vhs", "set-privacy", "straubing", "--dpo",
                                  "x" * 501, code=2)


def test_the_privacy_notice_is_linked_from_every_page_in_german_and_english(app, tenant):
    client = app.test_client()
    for path in ("/login", "/hilfe", "/neuer-zugang", "/datenschutz"):
        assert 'href="/datenschutz">Datenschutz</a>' in client.get(path).get_data(as_text=True)
    page = page_text(client.get("/datenschutz"))
    for words in ("Datenschutzhinweise", "Wer verantwortlich ist", "Ihre Rechte",
                  "„Meine Daten“", "Protokolleinträge: nach 180 Tagen"):
        assert words in page
    english = page_text(client.get("/datenschutz?lang=en"))
    assert "Privacy notice" in english and "Your rights" in english
    assert 'href="/datenschutz">Privacy</a>' in english
