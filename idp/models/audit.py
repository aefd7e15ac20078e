"""The audit trail: one row per event, with nothing secret in it."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, now


class AuditEvent(Base):
    """Something that happened to an account, a session, a grant or the installation."""

    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "at"), Index(None, "vhs", "at"), Index(None, "who", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger, default=now)
    kind: Mapped[str] = mapped_column(String(40))
    vhs: Mapped[str | None] = mapped_column(String(63))  # the slug, as typed for refusals
    who: Mapped[str | None] = mapped_column(String(64))  # sub, or an HMAC of VHS and address
    client_id: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(20))  # idp.identity.Via
    reason: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(45))  # shortened after IDP_AUDIT_IP_DAYS
    actor: Mapped[str | None] = mapped_column(String(100))  # who acted, when not the person
    # the actor as they were at the time: name, role ("admin", "operator", "cli"; empty for
    # events from before it was stored), the VHS's display name (``audit.record``)
    actor_name: Mapped[str | None] = mapped_column(String(200))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    actor_vhs: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(String(200))
