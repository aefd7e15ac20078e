"""The pages people see, and what every response carries: security headers and answers to
errors (a German or English page, or the protocol's JSON error, never a raw exception).

- 4xx from the request layer (``idp.web.guard``) or a view: the page or JSON error of its code;
- 429 of a self-service form: the form again, filled in, saying how long to wait;
- an unreachable or hung database: 503 with ``Retry-After`` (``temporarily_unavailable``
  on protocol endpoints), logged once per outage; no turn at the database (``idp.turns``):
  503 at once;
- anything else: 500, logged with its traceback.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, current_app, g, jsonify, redirect, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from ... import db, paths
from .. import oauth
from ..limits import SELF_SERVICE, retry_after
from . import access, account, display, factors, help_request, login, pages, second, upstream

RETRY_SECONDS = 30  # how long a client should wait while the database is down

MESSAGES = {
    400: _l("Die Anfrage ist ungültig."),
    404: _l("Diese Seite gibt es nicht."),
    405: _l("Diese Seite kann so nicht aufgerufen werden."),
    413: _l("Die Anfrage ist zu groß."),
    414: _l("Die Adresse der Anfrage ist zu lang."),
    415: _l("Diese Art von Anfrage wird hier nicht angenommen."),
    429: _l("Zu viele Anfragen. Bitte warten Sie einen Moment."),
    500: _l("Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es später noch einmal."),
    503: _l("Der Anmeldedienst ist gerade nicht erreichbar. Bitte versuchen Sie es in einer "
            "Minute noch einmal."),
}
JSON_ERRORS = {401: "invalid_client", 429: "temporarily_unavailable",
               503: "temporarily_unavailable"}


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer made once per key (Flask
    makes one for every request: 5 % of a client_credentials request's CPU), and none read
    at the endpoints that services call (``paths.WITHOUT_SESSION``): a cookie sent along
    there is not checked and stays as it is (a refresh's CPU was 8 % checking one)."""

    _made: tuple[tuple, object] | None = None

    def open_session(self, app: Flask, request):
        if request.path in paths.WITHOUT_SESSION:
            return self.session_class()  # empty and unmodified: no Set-Cookie either
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        made = self._made
        if made is None or made[0] != keys:
            made = self._made = (keys, super().get_signing_serializer(app))
        return made[1]


def init_app(app: Flask) -> None:
    """Register the pages, the error pages and the response headers."""
    app.session_interface = CookieSessions()
    app.register_blueprint(login.bp)
    app.register_blueprint(access.bp)
    app.register_blueprint(upstream.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(second.bp)
    app.register_blueprint(factors.bp)
    app.register_blueprint(help_request.bp)
    display.init_app(app)
    app.add_url_rule("/favicon.ico", "favicon", _favicon, methods=["GET"])
    app.register_error_handler(HTTPException, _http_error)
    for error in db.UNAVAILABLE:
        app.register_error_handler(error, _database_unavailable)
    app.register_error_handler(Exception, _unexpected_error)
    app.before_request(_csp_nonce)
    app.after_request(_security_headers)
    app.context_processor(lambda: {"csp_nonce": g.get("csp_nonce", "")})


def _favicon():
    """What browsers ask for before any page names its icon: the same SVG the pages name."""
    response = current_app.send_static_file("favicon.svg")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


# Codes and states travel in URLs: never leak them to other sites (Referrer-Policy).
ALWAYS = (("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"),
          ("Referrer-Policy", "no-referrer"))


def _csp_nonce() -> None:
    g.csp_nonce = secrets.token_urlsafe(16)


def _form_action() -> str:
    """'self', and the client a form of this page may end at (form_post, a redirect after
    a POST): browsers apply form-action to the redirects that follow a form, too."""
    origins = []
    for url in g.get("form_targets", []):
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return " ".join(["'self'", *sorted(set(origins))])


def _security_headers(response):
    """What every answer says about itself, unless its view said otherwise: one pass over
    its headers (``Headers.setdefault`` looks each name up and raises inside when it is
    missing, which cost more than the rest of this hook)."""
    if response.mimetype == "text/html":
        nonce = g.get("csp_nonce", "")
        policy = (f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
                  f"img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                  f"frame-ancestors 'none'; form-action {_form_action()}")
    else:  # JSON, scripts, pictures: nothing in them may load or run anything
        policy = "default-src 'none'; frame-ancestors 'none'"
    wanted = [("Content-Security-Policy", policy), *ALWAYS]
    if current_app.config["ISSUER"].startswith("https://"):
        wanted.append(("Strict-Transport-Security", "max-age=31536000"))
    if request.endpoint and not request.path.startswith(("/static/", "/.well-known/", "/jwks")):
        wanted.append(("Cache-Control", "no-store"))
    present = {name.lower() for name in response.headers.keys()}
    response.headers.extend([(name, value) for name, value in wanted
                             if name.lower() not in present])
    return response


def _answer(code: int, error: str | None = None, headers: dict | None = None):
    """The error page, or on protocol endpoints the JSON error, of ``code``."""
    if request.path.startswith(paths.JSON):
        error = error or JSON_ERRORS.get(code) or (
            "invalid_request" if code < 500 else "server_error")
        response = jsonify(error=error, error_description=oauth.DESCRIPTIONS.get(
            error, str(MESSAGES.get(code, "The request was refused."))))
    else:
        g.error_page = True
        response = current_app.make_response(render_template(
            "error.html", error=str(code), description=MESSAGES.get(code, MESSAGES[400])))
    response.status_code = code
    response.headers.update(headers or {})
    return response


def _http_error(error: HTTPException):
    if isinstance(getattr(error, "original_exception", None), db.UNAVAILABLE):
        return _database_unavailable(error.original_exception)  # the commit itself failed
    db.discard()  # whatever the view wrote before it gave up is not kept
    code = error.code or 500
    if code == 405 and request.method == "GET" and request.path.startswith("/admin/"):
        # a console action's address opened in the address bar: the page it acts on
        return redirect(pages.console_page(request.path.rsplit("/", 1)[0]) or "/admin/", 303)
    if code == 429 and request.endpoint in SELF_SERVICE:
        return access.too_many(retry_after())
    if code == 429:
        return _answer(429, headers={"Retry-After": str(retry_after())})
    return _answer(code)


def _database_unavailable(error: Exception):
    db.discard()
    if isinstance(error, db.Busy):  # no turn: the database hangs, or every turn is busy
        declared = db.outage().busy()
        return _answer(503, headers={"Retry-After": str(RETRY_SECONDS if declared else 1)})
    if db.conflict(error):
        current_app.logger.warning("transaction conflict on %s %s, answered 503 (retry): %s",
                                   request.method, request.path, error.orig.sqlstate)
        return _answer(503, headers={"Retry-After": "1"})
    db.outage().failed(error)
    return _answer(503, headers={"Retry-After": str(RETRY_SECONDS)})


def _unexpected_error(error: Exception):
    db.discard()
    current_app.logger.exception("unexpected error on %s %s", request.method, request.path)
    return _answer(500)
