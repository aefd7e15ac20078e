"""The grants and their extensions, on Authlib's classes.

RFC 6749 4.1 (authorization code), 6 (refresh, rotated), 4.4 (client credentials);
RFC 7636 (PKCE, S256 only, required for public clients); OIDC Core 1.0 (ID tokens,
nonce replay) and 3.1.2 (request checks); OAuth 2.0 Form Post Response Mode and RFC 9207
(``iss`` in every authorization response). Every error description here is a fixed text
(``OWN_DESCRIPTIONS``): none echoes what the client sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN
from authlib.oidc.core import grants as oidc_grants
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from flask import current_app, g
from flask import request as flask_request

from adapters.base import AdapterUnavailable

from .. import audit, claims, db, eligibility, tokens
from ..models import Account, Client, SsoSession, now
from ..signing import signing

RESPONSE_MODES = ("query", "form_post")
CHECKED_LENGTHS = ("nonce", "state", "login_hint", "ui_locales")

S256_ONLY = "'code_challenge_method' must be S256."
PKCE_REQUIRED = "Public clients must use PKCE (S256)."
BAD_MODE = "Unsupported 'response_mode'."
BAD_MAX_AGE = "'max_age' must be a non-negative integer."
TOO_LONG = {name: f"'{name}' is too long." for name in CHECKED_LENGTHS}
NO_VERIFIER = "The authorization request had a code_challenge; send its code_verifier."
VERIFIER_UNEXPECTED = "The authorization request had no code_challenge."
VERIFIER_MISMATCH = "The code_verifier does not match the code_challenge."
CANNOT_CHECK = "The eligibility of the person cannot be checked now; try again later."
NOT_ALLOWED = "The person may no longer sign in."
ALREADY_USED = "The refresh token was already used."
OWN_DESCRIPTIONS = frozenset({S256_ONLY, PKCE_REQUIRED, BAD_MODE, BAD_MAX_AGE, NO_VERIFIER,
                              VERIFIER_UNEXPECTED, VERIFIER_MISMATCH, CANNOT_CHECK,
                              NOT_ALLOWED, ALREADY_USED, *TOO_LONG.values()})
AUTH_METHODS = list(Client.AUTH_METHODS)


@dataclass(frozen=True)
class SignedIn:
    """Who authorizes at /authorize (Authlib's ``grant_user``): the account and the SSO
    session it signed in with, whose ``auth_time``, ``amr`` and ``sid`` the code keeps;
    ``acr`` when a policy or the request asked for one (the ID token then says it)."""

    account: Account
    sso: SsoSession
    acr: str | None = None


@dataclass(frozen=True)
class FormPost:
    """An authorization response in the form_post mode: the page that posts ``params`` to
    ``action`` is the protocol pages' to draw (``oauth.AuthorizationServer.pages``)."""

    action: str
    params: tuple[tuple[str, str], ...]


def authorization_redirect(redirect_uri: str, params: list[tuple[str, str]]):
    """Send parameters to the client in its response mode, with ``iss`` (RFC 9207)."""
    params = [*params, ("iss", current_app.config["ISSUER"])]
    if flask_request.values.get("response_mode") == "form_post":
        return 200, FormPost(redirect_uri, tuple(params)), [("Cache-Control", "no-store")]
    return 302, "", [("Location", add_params_to_uri(redirect_uri, params))]


def _active(account: Account | None) -> Account | None:
    return account if account is not None and account.active else None


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """RFC 6749 4.1 with codes bound to client, redirect URI, PKCE and SSO session."""

    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

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
            acr=signed_in.acr,
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
    """RFC 6749 6 with rotation and at most one live refresh token per grant (RFC 9700
    4.14.2).

    The presented token is spent (claimed once, by a conditional UPDATE) before anything
    new is issued, in ``authenticate_user``; its successor is derived from it
    (``tokens.successor``). The same client using it again within
    IDP_REFRESH_REUSE_GRACE_SECONDS (a second browser tab, a retry after a lost answer)
    gets that same successor again with a fresh access token, as long as the successor
    has not been used itself: so any number of repeats, in parallel or not, leave one
    live refresh token. Any other reuse (after the window, by another client, or of a
    token whose successor was rotated already) is theft: the whole family is revoked.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def __init__(self, request, server):
        super().__init__(request, server)
        self.repeat = False  # this request repeats a rotation within the grace window

    def authenticate_refresh_token(self, refresh_token):
        presented = tokens.find(refresh_token, "refresh_token")
        if presented is None or presented.kind != "refresh_token":
            return None
        row = presented.row
        if row.refresh_revoked_at is not None or presented.is_expired():
            return None
        if row.refresh_used_at is not None and not self._may_repeat(row):
            self._reused(row)
            return None
        return presented

    def authenticate_user(self, refresh_token):
        # RFC 6749 5.2: a grant whose person may no longer sign in is invalid_grant.
        row = refresh_token.row
        account = _active(row.account)
        try:
            allowed = account is not None and eligibility.admits(account)
        except AdapterUnavailable:
            raise InvalidGrantError(CANNOT_CHECK) from None
        if not allowed:
            raise InvalidGrantError(NOT_ALLOWED)
        if not tokens.claim_refresh(row):
            db.session().refresh(row, ["refresh_used_at", "refresh_revoked_at"])
            if not self._may_repeat(row):  # used before the window, or rotated on since
                self._reused(row)
                raise InvalidGrantError(ALREADY_USED)
            self.repeat = True
        return account

    @cached_property
    def successor(self) -> str:
        """The presented token's successor (an HMAC of it), made once per request."""
        return tokens.successor(self.request.form["refresh_token"])

    @cached_property
    def successor_state(self) -> str | None:
        """The successor's state, read at most once per request, though three of Authlib's
        hooks need it; a first rotation never reads it. It is first needed only once the
        presented token was seen spent, or this request's claim lost: the winner's UPDATE
        held the row until it committed, with the successor, so the state read then stays
        true."""
        return tokens.successor_state(self.successor)

    def issue_token(self, user, refresh_token):
        """A new access token, and the presented token's successor as the refresh token:
        on a repeat only if the first use issued one (the one stored then)."""
        token = super().issue_token(user, refresh_token)
        if "refresh_token" in token and not (self.repeat and self.successor_state is None):
            token["refresh_token"] = self.successor
        else:
            token.pop("refresh_token", None)
        return token

    def save_token(self, token):
        """A repeat stores its access token only: its refresh token is stored already."""
        if self.repeat:
            token = {name: value for name, value in token.items() if name != "refresh_token"}
        return super().save_token(token)

    def revoke_old_credential(self, refresh_token):
        """Spent already in authenticate_user."""

    def _may_repeat(self, row) -> bool:
        grace = current_app.config["REFRESH_REUSE_GRACE_SECONDS"]
        return bool(grace and row.refresh_revoked_at is None and row.refresh_used_at
                    and now() - row.refresh_used_at <= grace
                    and self.request.client.client_id == row.client_id
                    and self.successor_state != "spent")

    @staticmethod
    def _reused(row) -> None:
        tokens.revoke_family(row.family_id)
        account = row.account
        audit.record("refresh_reuse", vhs=account.vhs.slug if account else None,
                     sub=account.sub if account else None, client=row.client_id,
                     detail="the grant was revoked")


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """RFC 6749 4.4 for confidential clients registered with the grant."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(Client.SECRET_METHODS)


class OpenIDCode(oidc_grants.OpenIDCode):
    """ID tokens for the code flow, signed with the current key of the client's algorithm."""

    def exists_nonce(self, nonce, request):
        # Authlib validates the request again when it issues the code (after the consent
        # grant was validated): one query per request answers both, as no code is stored
        # between them.
        seen = g.setdefault("idp_nonces_seen", {})
        key = (request.payload.client_id, nonce)
        if key not in seen:
            seen[key] = tokens.nonce_seen(*key)
        return seen[key]

    def get_client_algorithm(self, client):
        return client.id_token_signed_response_alg

    def get_encode_header(self, client):
        key = signing().keyring().current(self.get_client_algorithm(client))
        return {"alg": key.alg, "kid": key.kid, "typ": "JWT"}

    def resolve_client_private_key(self, client):
        """The whole key set: joserfc signs with the key the header's ``kid`` names. A
        rotation between the two hooks changes nothing: the key it retires stays in the
        keyring (published and loadable) long after this request."""
        return signing().keyring().key_set

    def get_client_claims(self, client):
        issued = now()
        return {
            "iss": current_app.config["ISSUER"],
            "aud": client.client_id,
            "iat": issued,
            "exp": issued + current_app.config["ID_TOKEN_TTL"],
        }

    def get_compatible_claims(self, request):
        result = super().get_compatible_claims(request)
        result.update(claims.for_scope(claims.Holder.of(request.user, request.client),
                                       "openid"))
        return result

    def get_authorization_code_claims(self, authorization_code):
        result = super().get_authorization_code_claims(authorization_code)
        if authorization_code.sid:
            result["sid"] = authorization_code.sid
        return result

    def generate_user_info(self, user, scope):
        return claims.for_scope(user, scope)


class StrictCodeChallenge(CodeChallenge):
    """PKCE with S256 only; required for public clients already at /authorize.

    RFC 7636 4.6: a verifier that is missing, malformed or wrong where the code has a
    challenge is ``invalid_grant``, as OAuth 2.1 (4.1.3) and other providers answer too.
    """

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError(S256_ONLY)
        if grant.request.client.public and not data.get("code_challenge"):
            raise InvalidRequestError(PKCE_REQUIRED)

    def validate_code_verifier(self, grant, result):
        verifier = grant.request.form.get("code_verifier")
        code = grant.request.authorization_code
        challenge = self.get_authorization_code_challenge(code)
        if not challenge:
            if verifier:  # RFC 9700 4.8: no downgrade by adding a verifier afterwards
                raise InvalidRequestError(VERIFIER_UNEXPECTED)
            if grant.request.auth_method == "none":
                raise InvalidGrantError(NO_VERIFIER)
            return
        if not verifier:
            raise InvalidGrantError(NO_VERIFIER)
        if not CODE_VERIFIER_PATTERN.match(verifier) or not self.CODE_CHALLENGE_METHODS["S256"](
                verifier, challenge):
            raise InvalidGrantError(VERIFIER_MISMATCH)


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
            raise InvalidRequestError(BAD_MODE)
        max_age = data.get("max_age")
        if max_age is not None and not (max_age.isdigit() and len(max_age) <= 10):
            raise InvalidRequestError(BAD_MAX_AGE)
        for name in CHECKED_LENGTHS:
            if len(data.get(name) or "") > 512:
                raise InvalidRequestError(TOO_LONG[name])
