"""The console speaks to VHS staff: every page an administrator or an operator reaches by
links, in German and in English, over a database holding every audit kind, reason,
source and detail, every administrator's act and every mail in every delivery state,
shows no code word (snake_case), no "UTC", no command or adapter name, no host:port.
And every word the code stores has its label in ``idp.labels``."""

from __future__ import annotations

import html.parser
import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import click
import pytest
from flask_babel import force_locale
from sqlalchemy import select

from idp import audit, clients, db, labels
from idp.cli import main
from idp.identity import Reason, Via
from idp.models import Account, OutboxMail, Vhs, now

from ..helpers import FORBIDDEN
from .test_console import ANNA, BERND, OPS, act, signed_in, world  # noqa: F401 - the fixture

IDP = Path(__file__).resolve().parents[2] / "idp"
# English words that no German console page says (product and protocol names such as
# itm:PORTAL, Passkey, Client-Secret, Push or Poll are German usage and are not listed)
ENGLISH = re.compile(r"\b(the|and|of|is|not|none|current|next|retired|kid|activation|"
                     r"active|eligible|unknown|refused|changed|failed|delivered|waiting|"
                     r"retried|given up|set|unset|NO-BREAK SPACE|ZERO WIDTH|TOML|"
                     r"account|password|mail sent|yes|no)\b")
QUOTED = re.compile("„[^“]*“")  # what someone else said (a mail server's answer), quoted
HIDDEN = ("script", "style", "code", "textarea")  # a textarea holds values, not our words


class Visible(html.parser.HTMLParser):
    """The text a person reads (no scripts, styles or attribute values) and the console
    links on the page. Identifiers shown as ``<code>`` (a key's kid, a pseudonym) are left
    out: they are random base64url, and "-p_h-" in one is no code word."""

    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in HIDDEN:
            self._hidden += 1
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)

    def handle_endtag(self, tag):
        if tag in HIDDEN:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.text.append(data)


def recorded_in_code(pattern: str) -> set[str]:
    """Every fixed word the code passes as the first argument of ``pattern``."""
    found = set()
    for path in IDP.rglob("*.py"):
        found |= set(re.findall(pattern + r'\(\s*"([^"]+)"', path.read_text()))
    return found


def command_acts(group=main) -> set[str]:
    """The acts the commands record (a read-only command records none)."""
    found = set()
    for command in group.commands.values():
        if isinstance(command, click.Group):
            found |= command_acts(command)
        elif getattr(command, "act", None):
            found.add(command.act)
    return found


def test_every_stored_word_has_its_label():
    kinds = recorded_in_code(r"audit\.record") | recorded_in_code(r"\b_audit") - {"admin"}
    assert kinds - set(labels.KINDS) == set()
    reasons = {value for name, value in vars(Reason).items() if name.isupper()}
    assert reasons - set(labels.REASONS) == set()
    sources = {value for name, value in vars(Via).items() if name.isupper()}
    assert sources - set(labels.SOURCES) == set()
    acts = recorded_in_code(r"acts\.record") | recorded_in_code(r"\b_record") | command_acts()
    development = {"demo", "portal-sim", "itm-connect-sim", "run", "shell", "routes",
                   "mail-worker", "diagnose"} - set(labels.ACTS)
    assert acts - set(labels.ACTS) - development == set()
    mails = {path.stem for path in (IDP / "templates" / "mail").glob("*.txt")}
    assert mails - set(labels.MAILS) == set()


@pytest.mark.parametrize("language", ["de", "en"])
def test_no_two_acts_share_a_label(app, language):
    with app.test_request_context(), force_locale(language):
        words = [str(label) for label in labels.ACTS.values()]
    assert sorted(w for w in set(words) if words.count(w) > 1) == []


def _everything(app) -> None:
    """Every audit kind, reason, source, detail and act; every mail kind in every state."""
    with app.app_context():
        session = db.session()
        anna = session.scalar(select(Account).where(Account.address == ANNA))
        straubing = session.scalar(select(Vhs).where(Vhs.slug == "straubing"))
        clients.register(clients.Registration(
            client_id="vhskoop", display_name="vhsKOOP", redirect_uris=["https://a.de/cb"],
            grants=list(labels.GRANTS)[:2] + ["client_credentials"],
            scope=" ".join(labels.SCOPES)))
        actors = [f"console:straubing/{ANNA}", f"console:item/{OPS}", "cli:root", None]
        for number, kind in enumerate(sorted(labels.KINDS)):
            for reason in sorted(labels.REASONS):
                audit.record(kind, vhs="straubing", sub=anna.sub, reason=reason,
                             source=sorted(labels.SOURCES)[number % len(labels.SOURCES)],
                             client="vhskoop", actor=actors[number % len(actors)])
        for act in sorted(labels.ACTS):
            audit.record("admin", vhs="straubing", actor=actors[0], detail=act)
        for detail in [*labels.DETAILS, "second factor: totp"]:
            audit.record("mfa_change" if "_" in detail else "logout", vhs="straubing",
                         sub=anna.sub, detail=detail)
        for number, kind in enumerate(sorted(labels.MAILS)):
            row = OutboxMail(vhs_id=straubing.id, recipient=ANNA, kind=kind, locale="de",
                             subject="Betreff", text_body="Text", html_body="<p>Text</p>",
                             message_id=f"<{number}@test>", created_at=now(),
                             next_attempt_at=now())
            session.add(row)
            state = number % 3
            if state == 0:
                row.delivered_at = now()
            elif state == 1:
                row.failed_at, row.last_error = now(), "550 mailbox unavailable"
            else:
                row.attempts, row.last_error = 2, "connection refused"
        session.commit()


def _visible(answer) -> tuple[str, list[str]]:
    page = Visible()
    page.feed(answer.get_data(as_text=True))
    return " ".join(" ".join(page.text).split()), page.links


def _crawl(client, start: str, language: str) -> dict[str, str]:
    """Every console page reachable by links from ``start``: its visible text."""
    seen: dict[str, str] = {}
    queue = [start]
    while queue and len(seen) < 200:
        url = queue.pop(0)
        if url in seen:
            continue
        answer = client.get(url, headers={"Accept-Language": language}, follow_redirects=True)
        assert answer.status_code == 200, (url, answer.status_code)
        assert answer.request.path.startswith("/admin"), (url, answer.request.path)
        seen[url], links = _visible(answer)
        for link in links:
            target = urlsplit(urljoin(url, link))
            path = target.path + (f"?{target.query}" if target.query else "")
            if (target.path.startswith("/admin") and "lang=" not in target.query
                    and path not in seen and path not in queue):
                queue.append(path)
    return seen


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("who", [ANNA, OPS])
def test_no_console_page_shows_a_code_word(app, world, who, language):  # noqa: F811
    _everything(app)
    client = signed_in(app, who, "item" if who == OPS else "straubing")
    pages = _crawl(client, "/admin/", language)
    client.get(f"/admin/?lang={language}")  # the language switch, remembered
    for address in (BERND, ANNA, "wer\u200b@vhs-straubing.de"):
        answer = act(client, "/admin/vhs/straubing/diagnose", "/admin/vhs/straubing/diagnose",
                     address=address)
        assert answer.status_code == 200
        pages[f"diagnosis of {address!r}"] = _visible(answer)[0]
    assert len(pages) > (12 if who == OPS else 6), sorted(pages)
    assert who == ANNA or "/admin/clients/vhskoop" in pages
    found = [(url, what, pattern.search(text).group(0)) for url, text in pages.items()
             for pattern, what in FORBIDDEN if pattern.search(text)]
    assert found == []
    if language == "de":
        said = {url: QUOTED.sub("„…“", text) for url, text in pages.items()}  # others' words
        english = [(url, found.group(0), text[max(0, found.start() - 40):found.end() + 40])
                   for url, text in said.items() for found in [ENGLISH.search(text)] if found]
        assert english == [], "\n".join(map(str, english))
    if language == "en":
        untranslated = [url for url, text in pages.items() if "Verwaltungsprogramm" in text
                        and "administration software" not in text.lower()]
        assert untranslated == []
