"""The provider's durable state as SQLAlchemy 2 typed models.

Times are whole seconds since the epoch (UTC) in BIGINT columns: the same on SQLite and
PostgreSQL, and what JWT claims use anyway. Secrets (client secrets, codes, tokens,
session cookies) are stored only as SHA-256 digests: they are long random values, so a
digest is enough and a database dump gives nothing to replay.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from authlib.oauth2.rfc6749 import ClientMixin
from flask import current_app, has_app_context
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, MetaData, String, Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def now() -> int:
    """The current time in whole seconds; tests may set app.config["CLOCK"] (a callable)."""
    clock = current_app.config.get("CLOCK") if has_app_context() else None
    return int(clock() if clock else time.time())


def digest(value: str) -> str:
    """SHA-256 hex digest of a random secret, for storage and lookup."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret() -> str:
    """A random secret of 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable migration names)."""

    metadata = MetaData(naming_convention=NAMING)


class Vhs(Base):
    """A Volkshochschule: the tenant chosen on the login page."""

    __tablename__ = "vhs"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    onboarded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    adapter: Mapped[str | None] = mapped_column(String(50))
    adapter_config: Mapped[str | None] = mapped_column(Text)  # sealed (idp.sealing)
    adapter_changed_at: Mapped[int | None] = mapped_column(BigInteger)
    directory_token_hash: Mapped[str | None] = mapped_column(String(64))
    mail_config: Mapped[str | None] = mapped_column(Text)  # sealed SMTP settings (idp.mail)
    portal_config: Mapped[str | None] = mapped_column(Text)  # sealed itm:PORTAL settings
    portal_changed_at: Mapped[int | None] = mapped_column(BigInteger)
    upstream_config: Mapped[str | None] = mapped_column(Text)  # sealed OIDC client settings


class Account(Base):
    """A person at one VHS, identified by the cleaned address; ``sub`` never changes."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("vhs_id", "address"),)

    STATUSES = ("pending", "active", "disabled")

    id: Mapped[int] = mapped_column(primary_key=True)
    vhs_id: Mapped[int] = mapped_column(ForeignKey("vhs.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # "local" (our password) or "portal" (the VHS's itm:PORTAL checks the password)
    source: Mapped[str] = mapped_column(String(10), default="local", server_default="local")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    sub: Mapped[str] = mapped_column(String(64), unique=True, default=new_secret)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    password_changed_at: Mapped[int | None] = mapped_column(BigInteger)

    vhs: Mapped[Vhs] = relationship(lazy="joined")


class Client(Base, ClientMixin):
    """A relying party registered with ``vhskoop-idp clients add``."""

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
        return method in ("client_secret_basic", "client_secret_post")

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
    client: Mapped[Client] = relationship(lazy="joined")


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


class EligibilityCheck(Base):
    """The adapter's last answer for an address: a short cache and the grace period's basis."""

    __tablename__ = "eligibility_checks"
    __table_args__ = (UniqueConstraint("vhs_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vhs_id: Mapped[int] = mapped_column(ForeignKey("vhs.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20))
    checked_at: Mapped[int] = mapped_column(BigInteger)
    last_eligible_at: Mapped[int | None] = mapped_column(BigInteger)


class KmaLink(Base):
    """ITEM linked this address's user in the Kursmanagement-APP for this VHS."""

    __tablename__ = "kma_links"
    __table_args__ = (UniqueConstraint("vhs_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vhs_id: Mapped[int] = mapped_column(ForeignKey("vhs.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)


class DirectoryEntry(Base):
    """One user of a list the VHS's program pushed (adapter ``directory``)."""

    __tablename__ = "directory_entries"
    __table_args__ = (Index(None, "vhs_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vhs_id: Mapped[int] = mapped_column(ForeignKey("vhs.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(400))  # as pushed
    address: Mapped[str] = mapped_column(String(320))  # cleaned
    user_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean)
    released: Mapped[bool] = mapped_column(Boolean)


class AccountToken(Base):
    """An activation or password-reset link: single use, short-lived, stored as a digest."""

    __tablename__ = "account_tokens"

    PURPOSES = ("activate", "reset")

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    next_url: Mapped[str | None] = mapped_column(Text)  # a pending authorization to resume
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)
    voided_at: Mapped[int | None] = mapped_column(BigInteger)

    account: Mapped[Account] = relationship(lazy="joined")


class Deliverable:
    """The delivery state of an outbox row (mails, back-channel logouts): see idp.outbox."""

    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger, default=now)
    lease_until: Mapped[int | None] = mapped_column(BigInteger)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger)
    failed_at: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(300))


class OutboxMail(Deliverable, Base):
    """A mail to send from the VHS's own server; written with the change that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (Index(None, "delivered_at", "failed_at", "next_attempt_at"),
                      Index(None, "vhs_id", "recipient", "kind", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    vhs_id: Mapped[int] = mapped_column(ForeignKey("vhs.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(5), default="de")
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200))

    vhs: Mapped[Vhs] = relationship(lazy="joined")


class LogoutDelivery(Deliverable, Base):
    """An OIDC Back-Channel Logout notice still to deliver to one relying party.

    The logout token is signed when it is sent (it is short-lived), from these claims.
    """

    __tablename__ = "logout_deliveries"
    __table_args__ = (Index(None, "delivered_at", "failed_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    uri: Mapped[str] = mapped_column(Text)
    sub: Mapped[str] = mapped_column(String(64))
    sid: Mapped[str] = mapped_column(String(64))

    client: Mapped[Client] = relationship(lazy="joined")
