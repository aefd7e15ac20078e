"""Machine endpoints for the VHS's programs: pushing the user list (adapter directory).

``PUT /api/v1/vhs/<slug>/directory`` with ``Authorization: Bearer <token>`` (made with
``vhskoop-idp vhs directory-token SLUG``) and a JSON (``application/json``) or CSV
(``text/csv``) body replaces the VHS's list in one transaction.
"""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request

from adapters.directory import DirectoryFormatError

from .. import directory, tenants

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_LIST_BYTES = 10 * 1024 * 1024


def _error(status: int, error: str, description: str):
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


@bp.put("/vhs/<slug>/directory")
def put_directory(slug: str):
    """Replace the pushed user list of one VHS."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    vhs = tenants.directory_pusher(slug, token)
    if vhs is None:
        return _error(401, "invalid_token", "unknown VHS or wrong token")
    kind = {"application/json": "json", "text/csv": "csv"}.get(request.mimetype)
    if kind is None:
        return _error(415, "invalid_request", "send application/json or text/csv")
    request.max_content_length = MAX_LIST_BYTES
    try:
        count = directory.import_directory(vhs, request.get_data(cache=False), kind)
    except (DirectoryFormatError, UnicodeDecodeError) as error:
        return _error(400, "invalid_request", str(error)[:300])
    return jsonify({"vhs": vhs.slug, "entries": count})


def init_app(app: Flask) -> None:
    """Register the API."""
    app.register_blueprint(bp)
