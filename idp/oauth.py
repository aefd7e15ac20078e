"""Authlib's authorization server on our models.

RFC 6749 (code, refresh_token, client_credentials grants), RFC 7636 (PKCE, S256 only),
RFC 7009 (revocation), RFC 7662 (introspection), RFC 9207 (``iss`` in authorization
responses), OIDC Core 1.0 (ID token, userinfo), OAuth 2.0 Form Post Response Mode and
OIDC RP-Initiated Logout 1.0. Authlib does the protocol; this module answers its
questions (which client, which code, which token, which key) from our database.
"""

from __future__ import annotations

from dataclasses import dataclass

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import UserInfoEndpoint
from authlib.oidc.core import grants as oidc_grants
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from authlib.oidc.rpinitiated import EndSessionEndpoint as AuthlibEndSessionEndpoint
from flask import Flask, current_app, g, render_template
from flask import request as flask_request
from sqlalchemy import select

from adapters.base import AdapterUnavailable

from . import claims, db, eligibility, signin, tokens
from .models import Account, Client, SsoSession, Status, new_secret, now
from .signing import signing

RESPONSE_MODES = ("query", "form_post")
ALGORITHMS = ("RS256", "ES256")


@dataclass(frozen=True)
class SignedIn:
    """Who authorizes at /authorize (Authlib's ``grant_user``): the account and the SSO
    session it signed in with, whose ``auth_time``, ``amr`` and ``sid`` the code keeps."""

    account: Account
    sso: SsoSession


class AuthorizationServer(FlaskAuthorizationServer):
    """The server, answering Authlib's questions from the database."""

    def query_client(self, client_id):
        if not client_id or len(client_id) > 100:
            return None
        return db.session().scalar(select(Client).where(Client.client_id == client_id))

    def save_token(self, token, request):
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

    def handle_error_response(self, request, error):
        """Authorization errors go back to the client like successes (mode, ``iss``)."""
        if getattr(error, "redirect_uri", None):
            return self.handle_response(
                *authorization_redirect(error.redirect_uri, error.get_body())
            )
        return super().handle_error_response(request, error)


def authorization_redirect(redirect_uri: str, params: list[tuple[str, str]]):
    """Send parameters to the client in its response mode, with ``iss`` (RFC 9207)."""
    params = [*params, ("iss", current_app.config["ISSUER"])]
    if flask_request.values.get("response_mode") == "form_post":
        g.csp_nonce = g.get("csp_nonce") or new_secret()
        html = render_template("form_post.html", action=redirect_uri, params=params)
        return 200, html, [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "no-store"),
        ]
    return 302, "", [("Location", add_params_to_uri(redirect_uri, params))]


def generate_token(grant_type, client, user=None, scope=None, expires_in=None,
                   include_refresh_token=True):
    """Opaque bearer tokens; a refresh token only with offline_access and the grant."""
    scope = client.get_allowed_scope(scope) or ""
    if user is None:
        # Without a person there is nothing for OpenID scopes to say.
        scope = " ".join(s for s in scope_to_list(scope) or [] if s not in claims.SCOPES)
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


def _active(account: Account | None) -> Account | None:
    return account if account is not None and account.status == Status.ACTIVE else None


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """RFC 6749 4.1 with codes bound to client, redirect URI, PKCE and SSO session."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code, request):
        data = request.payload.data
        signed_in: SignedIn = request.user
        tokens.save_code(
            code,
            request.client,
            signed_in.account,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            nonce=data.get("nonce"),
            challenge=data.get("code_challenge"),
            challenge_method=data.get("code_challenge_method"),
            auth_time=signed_in.sso.auth_time,
            amr=list(signed_in.sso.amr),
            sid=signed_in.sso.sid,
        )

    def query_authorization_code(self, code, client):
        return tokens.redeem_code(code, client)

    def delete_authorization_code(self, authorization_code):
        """Nothing to delete: redeem_code spent the code, and it stays for replay checks."""

    def authenticate_user(self, authorization_code):
        return _active(db.session().get(Account, authorization_code.account_id))

    def create_authorization_response(self, redirect_uri, grant_user):
        if not grant_user:
            raise AccessDeniedError(redirect_uri=redirect_uri)
        self.request.user = grant_user
        code = self.generate_authorization_code()
        self.save_authorization_code(code, self.request)
        params = [("code", code)]
        if self.request.payload.state:
            params.append(("state", self.request.payload.state))
        return authorization_redirect(redirect_uri, params)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """RFC 6749 6 with rotation; reusing a rotated token revokes its family (RFC 9700).

    The presented token is spent (claimed once, by a conditional UPDATE) before anything
    new is issued, in ``authenticate_user``; so whatever order Authlib calls its hooks in,
    a token that lost a race issues nothing, and ``revoke_old_credential`` has no work.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        presented = tokens.find(refresh_token, "refresh_token")
        if presented is None or presented.kind != "refresh_token":
            return None
        row = presented.row
        if row.refresh_used_at is not None and row.refresh_revoked_at is None:
            self._reused(row)
            return None
        if presented.is_revoked() or presented.is_expired():
            return None
        return presented

    def authenticate_user(self, refresh_token):
        # RFC 6749 5.2: a grant whose person may no longer sign in is invalid_grant.
        account = _active(refresh_token.row.account)
        try:
            allowed = account is not None and eligibility.allows(account.vhs, account.address)
        except AdapterUnavailable:
            raise InvalidGrantError("The eligibility of the person cannot be checked now; "
                                    "try again later.") from None
        if not allowed:
            raise InvalidGrantError("The person may no longer sign in.")
        if not tokens.claim_refresh(refresh_token.row):
            self._reused(refresh_token.row)  # another request rotated it first
            raise InvalidGrantError("The refresh token was already used.")
        return account

    def revoke_old_credential(self, refresh_token):
        """Spent already in authenticate_user."""

    @staticmethod
    def _reused(row) -> None:
        tokens.revoke_family(row.family_id)
        current_app.logger.warning(
            "rotated refresh token reused by client %s; its family was revoked", row.client_id)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """RFC 6749 4.4 for confidential clients registered with the grant."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class OpenIDCode(oidc_grants.OpenIDCode):
    """ID tokens for the code flow, signed with the current key of the client's algorithm."""

    def exists_nonce(self, nonce, request):
        return tokens.nonce_seen(request.payload.client_id, nonce)

    def get_client_algorithm(self, client):
        return client.id_token_signed_response_alg

    def get_encode_header(self, client):
        # The header and the signature must come from one key, even across a reload.
        g.idp_signing_key = signing().keyring().current(self.get_client_algorithm(client))
        return {"alg": g.idp_signing_key.alg, "kid": g.idp_signing_key.kid, "typ": "JWT"}

    def resolve_client_private_key(self, client):
        return g.idp_signing_key.jwk

    def get_client_claims(self, client):
        issued = now()
        return {
            "iss": current_app.config["ISSUER"],
            "aud": client.client_id,
            "iat": issued,
            "exp": issued + current_app.config["ID_TOKEN_TTL"],
        }

    def get_authorization_code_claims(self, authorization_code):
        result = super().get_authorization_code_claims(authorization_code)
        if authorization_code.sid:
            result["sid"] = authorization_code.sid
        return result

    def generate_user_info(self, user, scope):
        return claims.for_scope(user, scope)


class StrictCodeChallenge(CodeChallenge):
    """PKCE with S256 only; required for public clients already at /authorize."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        if grant.request.client.public and not data.get("code_challenge"):
            raise InvalidRequestError("Public clients must use PKCE (S256).")


class AuthorizationRequestChecks:
    """What OIDC Core 3.1.2 asks of an authorization request beyond Authlib's checks."""

    def __call__(self, grant):
        grant.register_hook("after_validate_authorization_request_payload", self.check)

    @staticmethod
    def check(grant, _redirect_uri):
        data = grant.request.payload.data
        if data.get("request"):
            raise RequestNotSupportedError()
        if data.get("request_uri"):
            raise RequestURINotSupportedError()
        if data.get("response_mode", "query") not in RESPONSE_MODES:
            raise InvalidRequestError("Unsupported 'response_mode'.")
        max_age = data.get("max_age")
        if max_age is not None and not (max_age.isdigit() and len(max_age) <= 10):
            raise InvalidRequestError("'max_age' must be a non-negative integer.")
        for name in ("nonce", "state", "login_hint", "ui_locales"):
            if len(data.get(name) or "") > 512:
                raise InvalidRequestError(f"'{name}' is too long.")


class TokenValidator(BearerTokenValidator):
    """Bearer access tokens for userinfo (RFC 6750)."""

    def authenticate_token(self, token_string):
        presented = tokens.find(token_string, "access_token")
        if presented is None or presented.kind != "access_token":
            return None
        return presented


class Revocation(RevocationEndpoint):
    """RFC 7009. Revoking a refresh token revokes its whole grant."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string, token_type_hint):
        return tokens.find(token_string, token_type_hint)

    def revoke_token(self, token, request):
        if token.kind == "refresh_token":
            tokens.revoke_family(token.row.family_id)
        else:
            tokens.revoke_access(token.row)


class Introspection(IntrospectionEndpoint):
    """RFC 7662 for confidential clients, about the tokens issued to themselves."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

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


class UserInfo(UserInfoEndpoint):
    """OIDC Core 5.3: the claims the token's scope releases."""

    def get_issuer(self):
        return current_app.config["ISSUER"]

    def generate_user_info(self, user, scope):
        return claims.for_scope(user, scope)

    def resolve_private_key(self):
        return signing().keyring().current("RS256").jwk


class EndSession(AuthlibEndSessionEndpoint):
    """OIDC RP-Initiated Logout 1.0: ends this browser's SSO session."""

    def get_server_jwks(self):
        return signing().keyring().jwks()

    def get_algorithms(self):
        return list(ALGORITHMS)

    def end_session(self, end_session_request):
        signin.end_current()


def init_app(app: Flask) -> None:
    """Build the server with its grants and endpoints, registered by name."""
    server = AuthorizationServer()
    server.init_app(app)
    server.scopes_supported = list(claims.SCOPES)
    server.register_token_generator("default", generate_token)
    server.register_grant(
        AuthorizationCodeGrant,
        [StrictCodeChallenge(required=True), OpenIDCode(require_nonce=False),
         AuthorizationRequestChecks()],
    )
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    protector = ResourceProtector()
    protector.register_token_validator(TokenValidator())
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    server.register_endpoint(UserInfo(resource_protector=protector))
    server.register_endpoint(EndSession)
    app.extensions["idp.oauth"] = server


def server() -> AuthorizationServer:
    """The app's authorization server."""
    return current_app.extensions["idp.oauth"]
