"""Claims about a person, released by scope (OIDC Core 5.4), for ID tokens and userinfo.

``sub`` is an opaque random value per (VHS, address), never the address. ``vhs`` (the VHS
slug) is always released with ``openid``: every relying party needs the tenant.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oidc.core import UserInfo

from .models import Account

SCOPE_CLAIMS = {
    "openid": ("sub", "vhs"),
    "profile": ("name",),
    "email": ("email", "email_verified"),
}
SCOPES = ("openid", "profile", "email", "offline_access")


def all_claims(account: Account) -> dict:
    """Every claim this provider can say about ``account``."""
    claims = {
        "sub": account.sub,
        "vhs": account.vhs.slug,
        "email": account.address,
        "email_verified": bool(account.email_verified),
    }
    if account.display_name:
        claims["name"] = account.display_name
    return claims


def for_scope(account: Account, scope: str) -> UserInfo:
    """The claims ``scope`` releases."""
    granted = set(scope_to_list(scope) or [])
    released = {name for s in granted for name in SCOPE_CLAIMS.get(s, ())}
    claims = all_claims(account)
    return UserInfo({name: value for name, value in claims.items() if name in released})


def supported() -> list[str]:
    """Every claim name for discovery."""
    names = {name for names in SCOPE_CLAIMS.values() for name in names}
    return sorted(names | {"iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid",
                           "at_hash"})
