"""What the protocol hands out and remembers: clients, codes, tokens, SSO sessions, consents."""

from __future__ import annotations

import hmac

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, digest, now
from .people import Account


class Client(Base, ClientMixin):
    """A relying party registered with ``vhskoop-idp clients add``."""

    # How clients authenticate: a confidential one with its secret (RFC 6749 2.3.1), a
    # public one not at all (PKCE instead); what discovery advertises and endpoints accept.
    SECRET_METHODS = ("client_secret_basic", "client_secret_post")
    AUTH_METHODS = (*SECRET_METHODS, "none")

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    grant_types: Mapped[list] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(Text, default="openid")
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="RS256")
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    display_name: Mapped[str | None] = mapped_column(String(100))  # "itm:FEEDBACK"
    logo: Mapped[str | None] = mapped_column(String(100))  # a file in static/logos/
    client_uri: Mapped[str | None] = mapped_column(Text)  # the service's start page
    # where the service starts a sign-in of its own (OIDC Core 4, third-party initiated login)
    initiate_login_uri: Mapped[str | None] = mapped_column(Text)
    # every sign-in for this relying party needs a second factor (``clients add --require-mfa``)
    require_mfa: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # the ``legacy_id`` claim: the person's id in the login this provider replaced
    release_legacy_id: Mapped[bool] = mapped_column(Boolean, default=False,
                                                    server_default=false())

    @property
    def name(self) -> str:
        """What people read: the display name, else the client id."""
        return self.display_name or self.client_id

    # Authlib's ClientMixin, on our columns.
    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        # OIDC Core 3.1.2.1: redirect_uri is REQUIRED; no default is ever assumed.
        return None

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        allowed = set(scope_to_list(self.scope))
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        # Exact string comparison (RFC 9700 4.1.3), loopback ports included.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        if self.public or not self.secret_hash:
            return False
        return hmac.compare_digest(digest(client_secret), self.secret_hash)

    def check_endpoint_auth_method(self, method, endpoint):
        if self.public:
            return method == "none"
        return method in self.SECRET_METHODS

    def check_response_type(self, response_type):
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types

    @property
    def client_metadata(self):
        """The registration metadata Authlib's endpoints read (RP-Initiated Logout)."""
        return {
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
        }


class AuthorizationCode(Base, AuthorizationCodeMixin):
    """An issued code; kept after use so that a replay can revoke what it produced."""

    __tablename__ = "authorization_codes"
    __table_args__ = (Index(None, "client_id", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str | None] = mapped_column(String(255))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    auth_time: Mapped[int] = mapped_column(BigInteger)
    amr: Mapped[list] = mapped_column(JSON, default=list)
    acr: Mapped[str | None] = mapped_column(String(100))  # when a policy or the request asked
    sid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)

    # Authlib's AuthorizationCodeMixin.
    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_amr(self):
        return list(self.amr or [])

    def get_acr(self):
        return self.acr


class Token(Base):
    """An access token and, with offline_access, its refresh token.

    Tokens of one code exchange and all their refreshes share ``family_id``: reusing a
    rotated refresh token revokes the whole family (RFC 9700 4.14.2).
    """

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    issued_at: Mapped[int] = mapped_column(BigInteger, default=now)
    access_expires_at: Mapped[int] = mapped_column(BigInteger)
    refresh_expires_at: Mapped[int | None] = mapped_column(BigInteger)
    access_revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    refresh_revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    refresh_used_at: Mapped[int | None] = mapped_column(BigInteger)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    code_id: Mapped[int | None] = mapped_column(
        ForeignKey("authorization_codes.id", ondelete="SET NULL"), index=True
    )
    sid: Mapped[str | None] = mapped_column(String(64), index=True)

    account: Mapped[Account | None] = relationship(lazy="joined")
    client: Mapped[Client] = relationship()  # loaded when asked for: rarely needed


class SsoSession(Base):
    """A single sign-on session: the browser holds a random secret, we keep its digest."""

    __tablename__ = "sso_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    auth_time: Mapped[int] = mapped_column(BigInteger)
    amr: Mapped[list] = mapped_column(JSON, default=list)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    user_agent: Mapped[str | None] = mapped_column(String(300))
    # the network it started from, shortened at once ("192.0.2.0/24"): shown to the person
    ip: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    last_seen_at: Mapped[int] = mapped_column(BigInteger, default=now)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger)

    account: Mapped[Account] = relationship(lazy="joined")


class Consent(Base):
    """The scopes a person granted to a (not first-party) client, remembered."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("account_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[int] = mapped_column(BigInteger, default=now)

    def covers(self, scope: str) -> bool:
        """Whether this consent includes every scope in ``scope``."""
        return set(scope_to_list(scope) or []) <= set(scope_to_list(self.scope) or [])
