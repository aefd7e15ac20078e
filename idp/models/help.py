"""Help requests: a person who cannot get in asks their VHS ("Meine VHS um Hilfe bitten")."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, now
from .people import Vhs


class HelpState:
    """The states of a help request (plain strings)."""

    OPEN = "open"
    SOLVED = "solved"  # the program said eligible: the activation mail went out by itself
    DONE = "done"  # an administrator marked it done ("erledigt")
    REJECTED = "rejected"  # an administrator refused it, with a reason mailed to the person
    EXPIRED = "expired"  # open for IDP's re-check time (7 days) without a change


class HelpRequest(Base):
    """One person's request at one VHS; at most one open per address and VHS."""

    __tablename__ = "help_requests"
    __table_args__ = (Index(None, "vhs_id", "state"), Index(None, "state", "next_check_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    vhs_id: Mapped[int] = mapped_column(ForeignKey("vhs.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))  # cleaned; the mailbox was proven
    message: Mapped[str | None] = mapped_column(Text)  # the person's words, plain text
    # the checks as run then, as JSON: a list of {"ok": true|false|null, "text", "advice"}
    # (``idp.help.findings`` reads them back as ``idp.diagnose.Finding``)
    diagnosis: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default=HelpState.OPEN)
    needs_item: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    last_checked_at: Mapped[int | None] = mapped_column(BigInteger)
    next_check_at: Mapped[int | None] = mapped_column(BigInteger)
    closed_at: Mapped[int | None] = mapped_column(BigInteger)
    closed_by: Mapped[str | None] = mapped_column(String(100))  # console:..., "re-check"
    reason: Mapped[str | None] = mapped_column(Text)  # why it was refused (mailed)

    vhs: Mapped[Vhs] = relationship(lazy="joined")
