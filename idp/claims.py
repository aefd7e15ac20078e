"""Claims about a person, released by scope (OIDC Core 5.4), for ID tokens and userinfo.

``sub`` is an opaque random value per (VHS, address), never the address. ``vhs`` (the VHS
slug) is always released with ``openid``: every relying party needs the tenant; with it
``vhs_name``, the VHS's display name ("vhs Musterstadt"), which services show people.
``legacy_id`` (the person's id in the login this provider replaced) only to a client
registered with ``--release-legacy-id``, and only for an imported person.
"""

from __future__ import annotations

from dataclasses import dataclass

from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oidc.core import UserInfo

from .models import Account

SCOPE_CLAIMS = {
    "openid": ("sub", "vhs", "vhs_name", "legacy_id"),
    "profile": ("name",),
    "email": ("email", "email_verified"),
}
SCOPES = ("openid", "profile", "email", "offline_access")
# what a service may do itself with a client_credentials token (``idp.signals``): manage
# or only read its Shared Signals stream; never in a person's token
SERVICE_SCOPES = ("ssf.manage", "ssf.read")


@dataclass(frozen=True)
class Holder:
    """What the claims are made of: an account's public facts, read by one query at
    userinfo (``tokens.bearer``) or taken from a loaded account (``Holder.of``)."""

    sub: str
    vhs: str
    address: str
    email_verified: bool
    name: str | None
    legacy_id: str | None = None  # only when the client asking may have it
    vhs_name: str | None = None  # the VHS's display name

    @classmethod
    def of(cls, account: Account, client=None) -> Holder:
        """The holder facts of a loaded account, as ``client`` may see them."""
        released = client is not None and client.release_legacy_id
        return cls(account.sub, account.vhs.slug, account.address,
                   bool(account.email_verified), account.display_name,
                   account.legacy_id if released else None, account.vhs.name)


def all_claims(who: Account | Holder) -> dict:
    """Every claim this provider can say about an account."""
    holder = who if isinstance(who, Holder) else Holder.of(who)
    claims = {
        "sub": holder.sub,
        "vhs": holder.vhs,
        "vhs_name": holder.vhs_name or holder.vhs,
        "email": holder.address,
        "email_verified": holder.email_verified,
    }
    if holder.name:
        claims["name"] = holder.name
    if holder.legacy_id:
        claims["legacy_id"] = holder.legacy_id
    return claims


def released_by(scope: str) -> set[str]:
    """The names of the claims ``scope`` releases (``legacy_id`` only where the client may
    have it and the person has one)."""
    return {name for s in set(scope_to_list(scope) or []) for name in SCOPE_CLAIMS.get(s, ())}


def for_scope(who: Account | Holder, scope: str) -> UserInfo:
    """The claims ``scope`` releases."""
    released = released_by(scope)
    claims = all_claims(who)
    return UserInfo({name: value for name, value in claims.items() if name in released})


def supported() -> list[str]:
    """Every claim name for discovery."""
    names = {name for names in SCOPE_CLAIMS.values() for name in names}
    return sorted(names | {"iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
                           "at_hash"})
