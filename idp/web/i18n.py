"""Languages (Flask-Babel): German by default, English second.

The language of a page, in order: ``ui_locales`` of the authorization request (OIDC Core
3.1.2.1, also when it rides in the login page's ``next``); the person's choice with the
language switch (``?lang=``, kept in a cookie for a year, through logouts); the browser's
``Accept-Language``; German. Mails are written in the language of the page that caused
them.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask, Response, g, has_request_context, request
from flask_babel import Babel, get_locale
from werkzeug.exceptions import HTTPException

LANGUAGES = {"de": "Deutsch", "en": "English"}
DEFAULT = "de"
COOKIE = "idp_lang"


def _form(name: str) -> str:
    """A form field, or nothing when the body itself is refused (too large, malformed)."""
    try:
        return request.form.get(name, "")
    except HTTPException:
        return ""


def _first_known(values: list[str]) -> str | None:
    for value in values:
        language = value.split("-")[0].lower()
        if language in LANGUAGES:
            return language
    return None


def _ui_locales() -> str | None:
    values = (request.args.get("ui_locales", "") + " " + _form("ui_locales")).split()
    nxt = request.args.get("next") or _form("next")
    values += " ".join(parse_qs(urlsplit(nxt).query).get("ui_locales", [])).split()
    return _first_known(values)


def _switched() -> str | None:
    """The language the person chose with the switch, now or earlier."""
    return _first_known([request.args.get("lang", ""), request.cookies.get(COOKIE, "")])


def select_locale() -> str:
    """The language of this response (German outside a request: CLI, mail worker)."""
    if not has_request_context():
        return DEFAULT
    return (_ui_locales() or _switched()
            or request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT)


def _remember_switch(response: Response) -> Response:
    chosen = _first_known([request.args.get("lang", "")])
    if chosen and request.cookies.get(COOKIE) != chosen:
        response.set_cookie(COOKIE, chosen, max_age=365 * 86400, path="/", httponly=True,
                            samesite="Lax", secure=request.is_secure)
    return response


def _template_values() -> dict:
    current = str(get_locale() or DEFAULT)
    other = "en" if current == "de" else "de"
    if not has_request_context():  # a mail rendered by the CLI or a worker
        return {"current_locale": current}
    # An error page's switch does not send the refused request again.
    params = [] if g.get("error_page") else [
        (k, v) for k, v in request.args.items(multi=True) if k not in ("lang", "ui_locales")]
    if request.method == "POST" and _form("next") and not g.get("error_page"):
        params.append(("next", _form("next")))  # keep the pending authorization
    return {
        "current_locale": current,
        "other_language": other,
        "other_language_name": LANGUAGES[other],
        "other_language_query": urlencode([*params, ("lang", other)]),
    }


def init_app(app: Flask) -> None:
    """Attach Flask-Babel with the package's catalogues."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = "translations"
    Babel(app, locale_selector=select_locale)
    app.context_processor(_template_values)
    app.after_request(_remember_switch)
