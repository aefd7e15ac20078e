"""The audit trail: who signed in, was refused, was throttled, changed what.

Each event (``models.AuditEvent``) carries the time, the VHS, the person (its ``sub``, or
for a typed address an HMAC of VHS and address: the same address is recognisable, not
readable), the client, the source of a sign-in, a reason code, the IP address (shortened
after IDP_AUDIT_IP_DAYS by ``purge``) and, for administrators' acts, the actor. Callers
pass fixed vocabulary only: never a password, token, code, secret or cookie value.
Events are written in the request's transaction and logged as one line too.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from flask import current_app, has_request_context, request
from sqlalchemy import or_, select

from adapters.address import clean

from . import db, logs, metrics
from .models import Account, AuditEvent, ConsoleRole, Vhs, now


def address_tag(vhs: str, address: str) -> str:
    """A keyed digest of (VHS, address): the same person is recognisable, not readable."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{vhs}|{address}".encode(), hashlib.sha256).hexdigest()[:32]


def record(kind: str, *, vhs: str | None = None, sub: str | None = None,
           address: str | None = None, client: str | None = None, source: str | None = None,
           reason: str | None = None, actor: str | None = None,
           detail: str | None = None) -> AuditEvent:
    """Add one event to the request's (or command's) transaction, and log it."""
    who = sub or (address_tag(vhs or "", address) if address is not None else None)
    ip = request.remote_addr if has_request_context() else None
    event = AuditEvent(at=now(), kind=kind, vhs=(vhs or None) and vhs[:63], who=who,
                       client_id=client and client[:100], source=source, reason=reason,
                       ip=ip, actor=actor and actor[:100], detail=detail and detail[:200],
                       **at_the_time(actor))
    db.session().add(event)
    logs.tag_vhs(event.vhs)
    metrics.count_event(kind, source, reason)
    current_app.logger.info("audit %s vhs=%s who=%s client=%s source=%s reason=%s",
                            kind, event.vhs, who, event.client_id, source, reason)
    return event


def at_the_time(actor: str | None) -> dict:
    """Who ``actor`` is now, as the event keeps it: a console actor's name, role and VHS;
    a command's user. A later change of role, address or account changes nothing."""
    if not actor:
        return {}
    if actor.startswith("cli:"):
        return {"actor_name": actor[4:][:200], "actor_role": "cli"}
    if not actor.startswith("console:"):
        return {}
    slug, _, address = actor[len("console:"):].partition("/")
    found = db.session().execute(
        select(Account.display_name, Vhs.name, ConsoleRole.role)
        .join(Vhs, Account.vhs_id == Vhs.id)
        .outerjoin(ConsoleRole, ConsoleRole.account_id == Account.id)
        .where(Vhs.slug == slug, Account.address == address)).first()
    if found is None:
        return {"actor_name": address[:200], "actor_vhs": slug[:200]}
    name, place, role = found
    return {"actor_name": (name or address)[:200], "actor_role": role, "actor_vhs": place}


def named(events: list[AuditEvent], vhs_slugs: set[str] | None = None) -> dict[str, Account]:
    """The accounts the events are about (by ``sub``), where they still exist and belong
    to one of ``vhs_slugs`` (None: any VHS): the console shows them by name and address,
    the others by their pseudonym."""
    subs = {event.who for event in events if event.who}
    if not subs:
        return {}
    query = select(Account).join(Vhs).where(Account.sub.in_(sorted(subs)))
    if vhs_slugs is not None:
        query = query.where(Vhs.slug.in_(sorted(vhs_slugs)))
    return {account.sub: account for account in db.session().scalars(query)}


def shortened(ip: str) -> str:
    """An IP address with its host part cut off: IPv4 to /24, IPv6 to /48."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def network(ip: str | None) -> str | None:
    """An IP address as its shortened network, with the prefix: "192.0.2.0/24"."""
    short = shortened(ip or "")
    if not short:
        return None
    return short + ("/48" if ":" in short else "/24")


def events(vhs: str | None = None, who: list[str] | None = None, since: int | None = None,
           limit: int = 1000) -> list[AuditEvent]:
    """Events, newest first, of one VHS, of some persons (``sub`` or tag), since a time."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if vhs:
        query = query.where(AuditEvent.vhs == vhs)
    if who is not None:
        query = query.where(or_(AuditEvent.who.in_(who)))
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    return list(db.session().scalars(query))


def persons(typed_address: str, vhs_slug: str | None = None) -> list[str]:
    """Every ``who`` an address can stand under: its tag at each VHS (or at one) and the
    ``sub`` of each account with that address."""
    address = clean(typed_address).value
    slugs = [vhs_slug] if vhs_slug else list(db.session().scalars(select(Vhs.slug)))
    subs = select(Account.sub).join(Vhs).where(Account.address == address)
    if vhs_slug:
        subs = subs.where(Vhs.slug == vhs_slug)
    return [address_tag(slug, address) for slug in slugs] + list(db.session().scalars(subs))
