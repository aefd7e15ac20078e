"""Second factors of an account: a TOTP app, passkeys and security keys, recovery codes."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, now


class TotpFactor(Base):
    """An authenticator app (RFC 6238); counts once confirmed with a current code."""

    __tablename__ = "totp_factors"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), unique=True)
    secret: Mapped[str] = mapped_column(Text)  # sealed (idp.sealing), never stored in clear
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    confirmed_at: Mapped[int | None] = mapped_column(BigInteger)
    last_step: Mapped[int] = mapped_column(BigInteger, default=0)  # the last accepted step
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)


class Passkey(Base):
    """A WebAuthn credential: a passkey or a security key, named by its owner."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)  # base64url
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(60))
    synced: Mapped[bool] = mapped_column(Boolean, default=False)  # a multi-device passkey
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(Base):
    """One single-use recovery code, stored as its digest."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    used_at: Mapped[int | None] = mapped_column(BigInteger)
