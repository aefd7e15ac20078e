"""The endpoints besides /authorize and /token, on Authlib's classes.

RFC 7009 (revocation), RFC 7662 (introspection), OIDC Core 5.3 (userinfo, with RFC 6750
bearer errors) and OIDC RP-Initiated Logout 1.0 (end session).
"""

from __future__ import annotations

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import UserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint as AuthlibEndSessionEndpoint
from flask import current_app

from keys import ALGORITHMS

from .. import audit, claims, db, tokens
from ..models import Client
from ..signing import signing
from . import signin


class HintIgnored:
    """RFC 7009 2.1 and RFC 7662 2.1: an unknown ``token_type_hint`` does not refuse the
    request; the search extends across every kind of token (``tokens.find``)."""

    def check_params(self, request, client):
        if "token" not in request.form:
            raise InvalidRequestError()


class Revocation(HintIgnored, RevocationEndpoint):
    """RFC 7009. Revoking a refresh token revokes its whole grant."""

    CLIENT_AUTH_METHODS = list(Client.AUTH_METHODS)

    def query_token(self, token_string, token_type_hint):
        return tokens.find(token_string, token_type_hint)

    def revoke_token(self, token, request):
        if token.kind == "refresh_token":
            tokens.revoke_family(token.row.family_id)
        else:
            tokens.revoke_access(token.row)
        account = token.row.account
        audit.record("revocation", vhs=account.vhs.slug if account else None,
                     sub=account.sub if account else None, client=token.row.client_id,
                     detail=token.kind)


class Introspection(HintIgnored, IntrospectionEndpoint):
    """RFC 7662 for confidential clients, about the tokens issued to themselves."""

    CLIENT_AUTH_METHODS = list(Client.SECRET_METHODS)

    def query_token(self, token_string, token_type_hint):
        return tokens.find(token_string, token_type_hint)

    def check_permission(self, token, client, request):
        return token.check_client(client)

    def introspect_token(self, token):
        row = token.row
        payload = {
            "active": True,
            "client_id": row.client_id,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "scope": row.scope,
            "iss": current_app.config["ISSUER"],
            "aud": row.client_id,
            "iat": row.issued_at,
            "exp": token.expires_at,
        }
        if row.account is not None:
            payload.update(sub=row.account.sub, vhs=row.account.vhs.slug)
        return payload


class BearerError(OAuth2Error):
    """An RFC 6750 3.1 error, with its ``WWW-Authenticate`` challenge."""

    def __init__(self, error: str, status_code: int, description: str):
        super().__init__(description, status_code=status_code, error=error)

    def get_headers(self):
        issuer = current_app.config["ISSUER"]
        return [*super().get_headers(), ("WWW-Authenticate",
                                         f'Bearer realm="{issuer}", error="{self.error}"')]


def released(token_string: str, driver: db.Driver | None = None) -> dict:
    """The claims that the access token ``token_string`` releases (read on ``driver``,
    else on the request's session); BearerError when the token is unknown, expired or
    revoked (401) or lacks ``openid`` (403)."""
    presented = tokens.bearer(token_string, driver)
    if presented is None or not presented.usable:
        raise BearerError("invalid_token", 401, "The access token is invalid, expired or "
                                                "revoked.")
    if "openid" not in (presented.scope or "").split() or presented.holder is None:
        raise BearerError("insufficient_scope", 403, "The access token lacks 'openid'.")
    return claims.for_scope(presented.holder, presented.scope)


class UserInfo(UserInfoEndpoint):
    """OIDC Core 5.3: the claims the token's scope releases.

    RFC 6750 3.1: without any credentials the answer is 401 with a bare ``Bearer``
    challenge and no error code; a malformed ``Authorization`` is ``invalid_request``
    (400), a token we do not accept ``invalid_token`` (401), one without ``openid``
    ``insufficient_scope`` (403).
    """

    def __call__(self, request):
        scheme, _, credentials = (request.headers.get("Authorization") or "").partition(" ")
        if not scheme:
            realm = current_app.config["ISSUER"]
            return 401, "", [("WWW-Authenticate", f'Bearer realm="{realm}"')]
        if scheme.lower() != "bearer" or not credentials.strip():
            raise BearerError("invalid_request", 400, "Send 'Authorization: Bearer <token>'.")
        return 200, released(credentials.strip()), [("Content-Type", "application/json")]

    def get_issuer(self):
        return current_app.config["ISSUER"]

    def generate_user_info(self, user, scope):
        return claims.for_scope(user, scope)


class EndSession(AuthlibEndSessionEndpoint):
    """OIDC RP-Initiated Logout 1.0: ends this browser's SSO session."""

    def get_server_jwks(self):
        return signing().keyring().jwks()

    def get_algorithms(self):
        return list(ALGORITHMS)

    def end_session(self, end_session_request):
        signin.end_current()
