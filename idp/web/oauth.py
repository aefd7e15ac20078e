"""Authlib's authorization server on our models.

RFC 6749 with the grants of ``idp.web.grants`` and the endpoints of ``idp.web.endpoints``,
registered by name. Authlib does the protocol; the server answers its questions (which
client, where to store a token) from our database. Every error leaves with a fixed
description per error code (``DESCRIPTIONS``): Authlib's own texts repeat what the client
sent, and some of that (quotes, non-ASCII, controls) may not even appear in an error
description (RFC 6749 5.2), which Authlib answers with a ValueError; such a request is
``invalid_request`` here.
"""

from __future__ import annotations

import logging

from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.util import scope_to_list
from flask import Flask, current_app

from .. import claims, clients, metrics, tokens
from ..models import new_secret
from . import endpoints, grants

DESCRIPTIONS = {
    "invalid_request": "The request is missing a parameter, repeats one, or is malformed.",
    "invalid_client": "Client authentication failed.",
    "invalid_grant": "The grant is invalid, expired, revoked, or belongs to another client.",
    "unauthorized_client": "The client may not use this grant or response type.",
    "unsupported_grant_type": "The grant type is not supported.",
    "unsupported_response_type": "The response type is not supported.",
    "unsupported_token_type": "The token type is not supported.",
    "invalid_scope": "The requested scope is invalid or unknown.",
    "access_denied": "The person or the provider denied the request.",
    "login_required": "The person must sign in.",
    "consent_required": "The person must consent first.",
    "interaction_required": "The person must interact with the provider.",
    "request_not_supported": "The request parameter is not supported.",
    "request_uri_not_supported": "The request_uri parameter is not supported.",
    "invalid_token": "The access token is invalid, expired or revoked.",
    "insufficient_scope": "The access token does not allow this.",
    "server_error": "The provider failed; try again later.",
    "temporarily_unavailable": "The provider cannot answer now; try again later.",
}
FORBIDDEN_CHARACTERS = "Error description contains forbidden characters"


def described(error: OAuth2Error) -> OAuth2Error:
    """``error`` with its fixed description (one of ours is kept: it echoes nothing)."""
    if error.description not in grants.OWN_DESCRIPTIONS:
        error.description = DESCRIPTIONS.get(error.error, "The request was refused.")
    return error


def malformed(error: ValueError) -> InvalidRequestError:
    """The InvalidRequestError for Authlib's refusal to describe hostile input."""
    if not str(error).startswith(FORBIDDEN_CHARACTERS):
        raise error
    return InvalidRequestError(DESCRIPTIONS["invalid_request"])


class AuthorizationServer(FlaskAuthorizationServer):
    """The server, answering Authlib's questions from the database.

    A grant answers in data, never in HTML: a form_post response is a ``grants.FormPost``
    that the page registered by the protocol endpoints (``pages["form_post"]``) draws.
    """

    def __init__(self, app=None):
        super().__init__(app)
        self.pages = {}

    def handle_response(self, status_code, payload, headers):
        if isinstance(payload, grants.FormPost):
            payload = self.pages["form_post"](payload)
            headers = [*headers, ("Content-Type", "text/html; charset=utf-8")]
        return super().handle_response(status_code, payload, headers)

    def query_client(self, client_id):
        if not client_id or len(client_id) > 100:
            return None
        return clients.registered(client_id)

    def save_token(self, token, request):
        metrics.token_issued(request.payload.grant_type if request.payload else "")
        refresh = getattr(request, "refresh_token", None)
        code = getattr(request, "authorization_code", None)
        tokens.save(
            token,
            request.client,
            request.user,
            family_id=refresh.row.family_id if refresh else None,
            code=code,
            sid=refresh.row.sid if refresh else (code.sid if code else None),
        )

    def get_consent_grant(self, request=None, end_user=None):
        try:
            return super().get_consent_grant(request, end_user)
        except ValueError as error:
            raise malformed(error) from None

    def create_token_response(self, request=None):
        try:
            return super().create_token_response(request)
        except ValueError as error:
            return self.handle_error_response(request, malformed(error))

    def create_authorization_response(self, request=None, grant_user=None, grant=None):
        try:
            return super().create_authorization_response(request, grant_user, grant)
        except ValueError as error:
            return self.handle_error_response(request, malformed(error))

    def create_endpoint_response(self, name, request=None):
        try:
            return super().create_endpoint_response(name, request)
        except ValueError as error:
            return self.handle_error_response(request, malformed(error))

    def validate_endpoint_request(self, name, request=None):
        try:
            return super().validate_endpoint_request(name, request)
        except ValueError as error:
            raise malformed(error) from None

    def handle_error_response(self, request, error):
        """Authorization errors go back to the client like successes (mode, ``iss``)."""
        described(error)
        if getattr(error, "redirect_uri", None):
            return self.handle_response(
                *grants.authorization_redirect(error.redirect_uri, error.get_body()))
        return super().handle_error_response(request, error)


def generate_token(grant_type, client, user=None, scope=None, expires_in=None,
                   include_refresh_token=True):
    """Opaque bearer tokens; a refresh token only with offline_access and the grant."""
    scope = client.get_allowed_scope(scope) or ""
    if user is None:
        # Without a person there is nothing for OpenID scopes to say.
        scope = " ".join(s for s in scope_to_list(scope) or [] if s not in claims.SCOPES)
    else:  # what a service may do itself is never in a person's token
        scope = " ".join(s for s in scope_to_list(scope) or []
                         if s not in claims.SERVICE_SCOPES)
    token = {
        "token_type": "Bearer",
        "access_token": new_secret(),
        "expires_in": current_app.config["ACCESS_TOKEN_TTL"],
        "scope": scope,
    }
    if (include_refresh_token and user is not None
            and "offline_access" in (scope_to_list(scope) or [])
            and client.check_grant_type("refresh_token")):
        token["refresh_token"] = new_secret()
    return token


def init_app(app: Flask) -> None:
    """Build the server with its grants and endpoints, registered by name."""
    # Authlib logs every issued token at DEBUG ("Issue token ..."): never let it through.
    logging.getLogger("authlib").setLevel(logging.INFO)
    server = AuthorizationServer()
    server.init_app(app)
    server.scopes_supported = list(claims.SCOPES + claims.SERVICE_SCOPES)
    server.register_token_generator("default", generate_token)
    server.register_grant(
        grants.AuthorizationCodeGrant,
        [grants.StrictCodeChallenge(required=True), grants.OpenIDCode(require_nonce=False),
         grants.AuthorizationRequestChecks()],
    )
    server.register_grant(grants.RefreshTokenGrant)
    server.register_grant(grants.ClientCredentialsGrant)
    server.register_endpoint(endpoints.Revocation)
    server.register_endpoint(endpoints.Introspection)
    server.register_endpoint(endpoints.UserInfo())
    server.register_endpoint(endpoints.EndSession)
    app.extensions["idp.web.oauth"] = server


def server(app: Flask | None = None) -> AuthorizationServer:
    """The app's authorization server."""
    return (app or current_app).extensions["idp.web.oauth"]
