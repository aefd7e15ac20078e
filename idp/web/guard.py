"""Hostile or malformed input is answered before any view runs.

Every request passes these checks first (``before_request``, registered before all
others):
- the query string at most 16 KiB (414); the body at most IDP's MAX_CONTENT_LENGTH (413,
  Werkzeug); at most 100 form or query fields of at most 10 KiB each (413); no files;
  a body only as form fields, except at the push API and the Shared Signals endpoints
  (415);
- no invalid UTF-8 (Werkzeug decodes it to U+FFFD, refused here) and no C0 control
  character or DEL in a field name or value (400): no parameter of OAuth, OIDC or of
  our forms allows them, and a database refuses NUL in text; only the console's forms
  (``/admin/``) take line breaks (CR, LF) in values, for lists and TOML options;
- no control character in a header value (400, RFC 9110 5.5);
- an ``Authorization: Basic`` header must decode (base64, then UTF-8, then the
  form-encoded client id and secret of RFC 6749 2.3.1) to clean text, else the answer is
  ``invalid_client`` (401); a ``Bearer`` token must have RFC 6750's b64token syntax.
Pages answer with a German (or English) error page, protocol endpoints with their JSON
error (``views``); no answer repeats the input.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote_to_bytes

from flask import Flask, abort, current_app, jsonify, request

from .. import paths

MAX_QUERY = 16 * 1024
MAX_FIELDS = 100
MAX_FIELD = 10 * 1024
MAX_NAME = 100
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
FORBIDDEN = re.compile("[\x00-\x1f\x7f\ufffd]")
FORBIDDEN_IN_LINES = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f\ufffd]")
MULTI_LINE = ("/admin/",)  # forms with text areas
HEADER_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
CLIENT_AUTHENTICATION = paths.CLIENT_AUTHENTICATION  # where clients authenticate
BEARER = paths.BEARER  # where a bearer token is read
OWN_FORMATS = (paths.API, paths.SSF)  # the push API reads JSON or CSV, SSF reads JSON
HEADERS = ("HTTP_", "CONTENT_TYPE", "CONTENT_LENGTH")  # the headers in a WSGI environ


def check_request():
    """Refuse what no view should see; None lets the request on."""
    if len(request.query_string) > MAX_QUERY:
        abort(414)
    if header_refused(request.environ):
        abort(400)
    _check_fields(request.args)
    if request.content_length and request.mimetype not in FORM_TYPES and \
            not request.path.startswith(OWN_FORMATS):
        abort(415)  # every form and endpoint but the push API takes form fields only
    if request.mimetype in FORM_TYPES:
        # parsing refuses too large bodies and too many parts
        _check_fields(request.form, request.path.startswith(MULTI_LINE))
        if request.files:
            abort(415)
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    credentials = credentials.strip()
    if request.path in CLIENT_AUTHENTICATION and scheme.lower() == "basic" and \
            not _clean_basic(credentials):
        return _invalid_client()
    if request.path in BEARER and scheme.lower() == "bearer" and credentials and \
            not B64TOKEN.match(credentials):
        return _invalid_token()
    return None


def header_refused(environ: dict) -> bool:
    """Whether a header value of the WSGI ``environ`` holds a control character."""
    return any(HEADER_FORBIDDEN.search(value) for name, value in environ.items()
               if name.startswith(HEADERS) and isinstance(value, str))


def _check_fields(fields, lines: bool = False) -> None:
    items = list(fields.items(multi=True))
    in_values = FORBIDDEN_IN_LINES if lines else FORBIDDEN
    if len(items) > MAX_FIELDS:
        abort(413)
    for name, value in items:
        if len(name) > MAX_NAME or len(value) > MAX_FIELD:
            abort(413)
        if FORBIDDEN.search(name) or in_values.search(value):
            abort(400)


def _clean_basic(credentials: str) -> bool:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        parts = [unquote_to_bytes(part).decode("utf-8") for part in decoded.split(":", 1)]
    except (binascii.Error, ValueError):
        return False
    return len(parts) == 2 and not any(FORBIDDEN.search(part) for part in parts)


def _invalid_client():
    response = jsonify(error="invalid_client", error_description="Client authentication "
                                                                 "failed.")
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Basic realm="' + current_app.config["ISSUER"] + '"'
    return response


def _invalid_token():
    response = jsonify(error="invalid_token", error_description="The access token is "
                                                                "malformed.")
    response.status_code = 401
    response.headers["WWW-Authenticate"] = (
        f'Bearer realm="{current_app.config["ISSUER"]}", error="invalid_token"')
    return response


def init_app(app: Flask) -> None:
    """Check every request before anything else looks at it."""
    app.before_request_funcs.setdefault(None, []).insert(0, check_request)
