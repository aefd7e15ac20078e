"""The pages people see, and what every response carries (security headers, error pages)."""

from __future__ import annotations

import secrets
import time

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from .. import db
from . import access, account, login, upstream

_JSON_PATHS = ("/token", "/userinfo", "/revoke", "/introspect", "/.well-known/", "/jwks",
               "/api/")

MESSAGES = {
    400: _l("Die Anfrage ist ungültig."),
    404: _l("Diese Seite gibt es nicht."),
    405: _l("Diese Seite kann so nicht aufgerufen werden."),
    413: _l("Die Anfrage ist zu groß."),
    429: _l("Zu viele Anfragen. Bitte warten Sie einen Moment."),
    500: _l("Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es später noch einmal."),
}


def init_app(app: Flask) -> None:
    """Register the pages, the error pages and the response headers."""
    app.register_blueprint(login.bp)
    app.register_blueprint(access.bp)
    app.register_blueprint(upstream.bp)
    app.register_blueprint(account.bp)
    app.add_template_filter(_datetime, "datetime")
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.before_request(_csp_nonce)
    app.after_request(_security_headers)
    app.context_processor(lambda: {"csp_nonce": g.get("csp_nonce", "")})


def _datetime(seconds: int) -> str:
    return time.strftime("%d.%m.%Y %H:%M UTC", time.gmtime(seconds))


def _csp_nonce() -> None:
    g.csp_nonce = secrets.token_urlsafe(16)


def _security_headers(response):
    nonce = g.get("csp_nonce", "")
    response.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Codes and states travel in URLs: never leak them to other sites.
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.endpoint and not request.path.startswith(("/static/", "/.well-known/", "/jwks")):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _http_error(error: HTTPException):
    db.discard()  # whatever the view wrote before it gave up is not kept
    code = error.code or 500
    if code == 429 and request.endpoint == "views.login_submit":
        return login.too_many_attempts()
    message = MESSAGES.get(code, error.description)
    if request.path.startswith(_JSON_PATHS):
        body = {"error": "invalid_request" if code < 500 else "server_error",
                "error_description": str(message)}
        return jsonify(body), code
    return render_template("error.html", error=str(code), description=message), code


def _unexpected_error(error: Exception):
    current_app.logger.exception("unexpected error on %s %s", request.method, request.path)
    return _http_error(_InternalError())


class _InternalError(HTTPException):
    code = 500
