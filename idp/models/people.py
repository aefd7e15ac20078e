"""The VHS, the people who sign in there, their links, and what their programs said."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, new_secret, now


class Status:
    """The states of an account (plain strings: stored as they are, on every driver)."""

    PENDING = "pending"  # asked for access, has not followed the activation link yet
    ACTIVE = "active"
    DISABLED = "disabled"  # an administrator closed it on purpose
    LEFT = "left"  # "ausgeschieden": the program said no for IDP_LEAVER_GRACE_DAYS


class Source:
    """Who checks an account's password."""

    LOCAL = "local"  # our Argon2id hash
    PORTAL = "portal"  # the VHS's itm:PORTAL (its password API, or its OpenID provider)


class Purpose:
    """What a mailed link is for."""

    ACTIVATE = "activate"
    RESET = "reset"
    MOVE = "move"  # confirm the address the program now has for the person


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
    # sealed settings of the old login that confirms imported people without a hash
    legacy_login_config: Mapped[str | None] = mapped_column(Text)
    # every account of this VHS needs a second factor (``vhskoop-idp vhs set-mfa``)
    mfa_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # who is responsible for its people's data and its data protection officer, where the
    # VHS entered its own (``idp.privacy``; else IDP_PRIVACY_CONTROLLER, IDP_PRIVACY_DPO)
    privacy_controller: Mapped[str | None] = mapped_column(Text)
    privacy_dpo: Mapped[str | None] = mapped_column(Text)


class Account(Base):
    """A person at one VHS, identified by the cleaned address; ``sub`` never changes."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("vhs_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vhs_id: Mapped[int] = mapped_column(ForeignKey("vhs.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(10), default=Source.LOCAL,
                                        server_default=Source.LOCAL)
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING)
    sub: Mapped[str] = mapped_column(String(64), unique=True, default=new_secret)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    password_changed_at: Mapped[int | None] = mapped_column(BigInteger)
    # when the VHS's itm:PORTAL last said it has no login for this address (its outage
    # then does not lock a local account out: IDP_PORTAL_GRACE_SECONDS)
    portal_unknown_at: Mapped[int | None] = mapped_column(BigInteger)
    last_login_at: Mapped[int | None] = mapped_column(BigInteger)  # the last signin.finish
    # Imported from the login this provider replaced (``vhskoop-idp accounts import``):
    # the person's id there (released to clients registered with --release-legacy-id),
    # the password hash as it was exported (until the first sign-in here replaces it by
    # Argon2id), when an import last wrote the account, and when it was welcomed by mail.
    legacy_id: Mapped[str | None] = mapped_column(String(200))
    legacy_hash: Mapped[str | None] = mapped_column(String(255))
    imported_at: Mapped[int | None] = mapped_column(BigInteger)
    welcomed_at: Mapped[int | None] = mapped_column(BigInteger)
    # A leaver (``idp.leavers``): since when every answer of the VHS's program said no, how
    # many such answers, and when the account was closed as "ausgeschieden" (Status.LEFT).
    leaving_since: Mapped[int | None] = mapped_column(BigInteger)
    no_answers: Mapped[int] = mapped_column(default=0, server_default="0")
    left_at: Mapped[int | None] = mapped_column(BigInteger)
    # when the mail "Ihr Zugang wird geschlossen" went out (IDP_INACTIVE_DAYS); a sign-in
    # clears it
    inactivity_warned_at: Mapped[int | None] = mapped_column(BigInteger)
    # "Zugang behalten": an administrator's exception until then, and why (neither a
    # leaver's nor an unused account is closed or deleted before it ends)
    keep_until: Mapped[int | None] = mapped_column(BigInteger)
    keep_reason: Mapped[str | None] = mapped_column(String(200))
    # A mover (``idp.movers``): the address the program now has for the person, and since
    # when; the account moves there when the person follows the link mailed to it.
    moving_to: Mapped[str | None] = mapped_column(String(320))
    moving_since: Mapped[int | None] = mapped_column(BigInteger)

    vhs: Mapped[Vhs] = relationship(lazy="joined")

    @property
    def active(self) -> bool:
        """Whether the account may sign in at all."""
        return self.status == Status.ACTIVE


class Role:
    """What an account may do in the console (``vhskoop-idp admins grant``)."""

    ADMIN = "admin"  # an administrator of the account's own VHS
    OPERATOR = "operator"  # an ITEM operator: everything, for every VHS


class ConsoleRole(Base):
    """A console role held by an account; at most one per account."""

    __tablename__ = "console_roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), unique=True)
    role: Mapped[str] = mapped_column(String(10))  # a Role
    granted_at: Mapped[int] = mapped_column(BigInteger, default=now)
    granted_by: Mapped[str | None] = mapped_column(String(100))
    # An administrator's daily digest of help requests (``idp.digest``): wanted or not,
    # in which language, when it last went out, when it was last looked at.
    digest: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    digest_locale: Mapped[str] = mapped_column(String(5), default="de", server_default="de")
    digest_sent_at: Mapped[int | None] = mapped_column(BigInteger)
    digest_checked_at: Mapped[int | None] = mapped_column(BigInteger)

    account: Mapped[Account] = relationship(lazy="joined")


class AccountToken(Base):
    """An activation or password-reset link: single use, short-lived, stored as a digest."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(10))  # a Purpose
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    next_url: Mapped[str | None] = mapped_column(Text)  # a pending authorization to resume
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)
    voided_at: Mapped[int | None] = mapped_column(BigInteger)

    account: Mapped[Account] = relationship(lazy="joined")


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
    latency_ms: Mapped[int | None] = mapped_column()  # how long the program took to answer
    # the program's own id of the user the last answer was about (``Person.user_id``): a
    # later "unknown" under this address may be a mover (``find_by_id``), not a leaver
    program_user_id: Mapped[str | None] = mapped_column(String(200))


class LifecycleLease(Base):
    """Which worker runs the lifecycle pass at a VHS now, and until when (``idp.lifecycle``):
    with several workers, each VHS's program is asked by one at a time."""

    __tablename__ = "lifecycle_leases"

    vhs_id: Mapped[int] = mapped_column(ForeignKey("vhs.id", ondelete="CASCADE"),
                                        primary_key=True)
    lease_until: Mapped[int] = mapped_column(BigInteger, default=0)
    holder: Mapped[str | None] = mapped_column(String(100))
    last_pass_at: Mapped[int | None] = mapped_column(BigInteger)


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
