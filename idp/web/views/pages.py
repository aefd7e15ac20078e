"""Where a page may send the browser next, which client its forms may end at, and the
words of waits and expired forms: what the login, the self-service pages, the second
step, the protocol pages and the console share.

``safe_next`` is the only way a ``next`` parameter becomes a redirect: a pending
authorization request of ours, the account pages, or a console page (never another site).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from flask import g, url_for
from flask_babel import lazy_gettext, ngettext

from ..oauth import server

CONSOLE_PAGE = re.compile(r"^/admin(/[A-Za-z0-9._~%/-]*)?(\?[A-Za-z0-9._~%&=+-]*)?$")
EXPIRED = lazy_gettext("Das Formular ist abgelaufen. Bitte versuchen Sie es noch einmal.")
TOO_MANY = lazy_gettext("Zu viele fehlgeschlagene Anmeldeversuche. Bitte warten Sie "
                        "%(wait)s und versuchen Sie es dann erneut. „Passwort vergessen“ "
                        "geht jederzeit.")


def console_page(value: str | None) -> str | None:
    """A console page (``/admin...``) a login or a console form may return to: a path of
    ours, never another site, no dot segments; else None."""
    if (value and len(value) <= 2000 and CONSOLE_PAGE.match(value) and "//" not in value
            and "/." not in value):
        return value
    return None


def safe_next(value: str | None) -> str | None:
    """Only a pending authorization request of ours may be resumed (no open redirect)."""
    prefix = url_for("protocol.authorize") + "?"
    if value and value.startswith(prefix) and "\\" not in value and len(value) <= 8192:
        return value
    if value in (url_for("account.page"), url_for("factors.page")) or console_page(value):
        return value
    return None


def wait_words(seconds: int) -> str:
    """A wait in words: "30 Sekunden", "2 Minuten"."""
    if seconds < 90:
        return ngettext("%(num)s Sekunde", "%(num)s Sekunden", seconds)
    minutes = (seconds + 59) // 60
    return ngettext("%(num)s Minute", "%(num)s Minuten", minutes)


def allow_form_target(next_url: str | None) -> None:
    """Let this page's forms end at the client that ``next_url`` (a pending authorization)
    returns to, once that client and its redirect URI are known to be registered: the
    page's CSP form-action then allows it (browsers apply it to a form's redirects too)."""
    if not next_url:
        return
    query = parse_qs(urlsplit(next_url).query)
    client = server().query_client((query.get("client_id") or [""])[0])
    redirect_uri = (query.get("redirect_uri") or [""])[0]
    if client is not None and client.check_redirect_uri(redirect_uri):
        g.form_targets = [*g.get("form_targets", []), redirect_uri]
