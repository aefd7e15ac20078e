"""What waits to be delivered: mails from the VHS's server, back-channel logout notices."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, now
from .grants import Client
from .people import Vhs


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
    # when the link in it stops working: the mail is retried at least every 5 minutes
    # until then, and given up, not sent dead, after
    expires_at: Mapped[int | None] = mapped_column(BigInteger)

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
