"""What the provider keeps for the adapters to read: ITEM's KMA links (which
Kursmanagement-APP users may sign in) and the user lists a Verwaltungsprogramm pushes
(``/api/idp/v1/directory``, ``vhs import-directory``).

A change here makes the next login of the people concerned ask the adapter again (their
remembered answers in ``EligibilityCheck`` are dropped).
"""

from __future__ import annotations

from sqlalchemy import delete, select

from adapters import directory as lists
from adapters.address import clean

from . import db
from .models import DirectoryEntry, EligibilityCheck, KmaLink, Vhs


class Links:
    """The provider's KMA links, as adapters.kma asks for them."""

    def is_linked(self, vhs: str, address: str) -> bool:
        return db.session().scalar(
            select(KmaLink.id).join(Vhs).where(Vhs.slug == vhs, KmaLink.address == address)
        ) is not None


def entries_of(vhs_id: int):
    """The pushed list of VHS ``vhs_id``, one address at a time, as adapters.directory
    reads it."""
    def entries(address: str) -> list[dict]:
        rows = db.session().scalars(select(DirectoryEntry).where(
            DirectoryEntry.vhs_id == vhs_id, DirectoryEntry.address == address))
        return [{"email": r.email, "id": r.user_id, "name": r.name, "active": r.active,
                 "released": r.released} for r in rows]
    return entries


def link(vhs: Vhs, typed_address: str) -> str:
    """Record a KMA link; returns the cleaned address."""
    address = clean(typed_address).value
    exists = db.session().scalar(select(KmaLink.id).where(KmaLink.vhs_id == vhs.id,
                                                          KmaLink.address == address))
    if not exists:
        db.session().add(KmaLink(vhs_id=vhs.id, address=address))
        _forget(vhs, address)
    return address


def unlink(vhs: Vhs, typed_address: str) -> bool:
    """Remove a KMA link; whether there was one."""
    address = clean(typed_address).value
    removed = db.session().execute(delete(KmaLink).where(
        KmaLink.vhs_id == vhs.id, KmaLink.address == address)).rowcount
    _forget(vhs, address)
    return bool(removed)


def links(vhs_slug: str | None = None) -> list[tuple[str, str]]:
    """The KMA links as (VHS slug, address), of one VHS or all."""
    query = select(Vhs.slug, KmaLink.address).join(Vhs).order_by(Vhs.slug, KmaLink.address)
    if vhs_slug:
        query = query.where(Vhs.slug == vhs_slug)
    return [(slug, address) for slug, address in db.session().execute(query)]


def replace_directory(vhs: Vhs, entries: list[dict]) -> int:
    """Replace the VHS's pushed user list (in the caller's transaction); the entry count."""
    session = db.session()
    session.execute(delete(DirectoryEntry).where(DirectoryEntry.vhs_id == vhs.id))
    session.add_all(DirectoryEntry(
        vhs_id=vhs.id, email=e["email"], address=clean(e["email"]).value, user_id=e["id"],
        name=e["name"], active=e["active"], released=e["released"]) for e in entries)
    session.execute(delete(EligibilityCheck).where(EligibilityCheck.vhs_id == vhs.id))
    session.flush()
    return len(entries)


def import_directory(vhs: Vhs, data: bytes, kind: str) -> int:
    """Parse a pushed list (``json`` or ``csv``) and make it the VHS's list.

    Raises adapters.directory.DirectoryFormatError with the first problem found.
    """
    return replace_directory(vhs, lists.parse(data, kind))


def _forget(vhs: Vhs, address: str) -> None:
    db.session().execute(delete(EligibilityCheck).where(
        EligibilityCheck.vhs_id == vhs.id, EligibilityCheck.address == address))
