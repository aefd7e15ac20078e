"""itm:PORTAL connectors: whoever has a staff login at the VHS's portal uses it here.

The contract (DESIGN.md): ``lookup(address) -> bool``, ``login(address, password) ->
PortalIdentity | None`` (None: wrong password), ``password_reset_url(address) -> str``;
every failure to get a trustworthy answer raises ``PortalUnavailable``.
"""

from .base import PortalConnector, PortalIdentity, PortalUnavailable

__all__ = ["PortalConnector", "PortalIdentity", "PortalUnavailable"]
