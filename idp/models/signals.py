"""Shared Signals (SSF 1.0): each service's event stream, the subjects it asked not to hear
about, and the Security Event Tokens waiting for it (``idp.signals``)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, now
from .delivery import Deliverable
from .grants import Client


class SsfStream(Base):
    """A service's one event stream: how its events travel (push to its URL, or poll here),
    which it asked for, and whether they flow (enabled), wait (paused) or are dropped
    (disabled)."""

    __tablename__ = "ssf_streams"

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE"), unique=True)
    method: Mapped[str] = mapped_column(String(20))  # "push" (RFC 8935) or "poll" (RFC 8936)
    endpoint_url: Mapped[str | None] = mapped_column(Text)  # push: the receiver's URL
    authorization_header: Mapped[str | None] = mapped_column(Text)  # push: sealed
    events_requested: Mapped[list] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="enabled")
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    updated_at: Mapped[int] = mapped_column(BigInteger, default=now)
    verified_at: Mapped[int | None] = mapped_column(BigInteger)  # the last verification asked
    # push: the worker that delivers the stream now, in order (one at a time)
    lease_until: Mapped[int | None] = mapped_column(BigInteger)

    client: Mapped[Client] = relationship(lazy="joined")


class SsfRemovedSubject(Base):
    """A person the service asked not to hear about (``remove_subject_endpoint``)."""

    __tablename__ = "ssf_removed_subjects"
    __table_args__ = (UniqueConstraint("stream_pk", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_pk: Mapped[int] = mapped_column(ForeignKey("ssf_streams.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(64))


class SsfEvent(Deliverable, Base):
    """One Security Event Token for one stream, in order of ``id``: its claims (signed when
    it is sent or polled), until delivered or acknowledged, and kept IDP_SSF_EVENT_DAYS."""

    __tablename__ = "ssf_events"
    __table_args__ = (Index(None, "stream_pk", "delivered_at", "failed_at", "id"),
                      Index(None, "subject"))

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_pk: Mapped[int] = mapped_column(ForeignKey("ssf_streams.id", ondelete="CASCADE"))
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str | None] = mapped_column(String(64))  # the person's sub, if any
    claims: Mapped[dict] = mapped_column(JSON)

    stream: Mapped[SsfStream] = relationship()
