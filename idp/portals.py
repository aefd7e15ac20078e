"""Each VHS's itm:PORTAL connector: configured per VHS (sealed), built once per instance,
rebuilt when the settings change, and the accounts of portal users."""

from __future__ import annotations

import time
from dataclasses import asdict

from flask import Flask, current_app

from . import db
from .built import PerVhs
from .connectors.base import PortalIdentity
from .connectors.portal import HttpPortalConnector, PortalSettings
from .models import Account, Vhs
from .sealing import seal, unseal


class PortalDown(Exception):
    """The VHS's itm:PORTAL cannot answer now; a login must not fall back to a local one."""


def configure(vhs: Vhs, settings: PortalSettings | None) -> None:
    """Set (checked) or remove the VHS's portal."""
    if settings is None:
        vhs.portal_config = None
    else:
        settings.check()
        vhs.portal_config = seal(asdict(settings), "portal-config")
    vhs.portal_changed_at = time.time_ns() // 1000
    db.session().commit()


def portal_for(vhs: Vhs) -> HttpPortalConnector | None:
    """The VHS's connector (one HTTP session and circuit breaker per VHS and instance)."""
    if not vhs.portal_config:
        return None
    return current_app.extensions["idp.portals"].get(
        vhs.id, vhs.portal_changed_at, lambda: HttpPortalConnector(
            PortalSettings(**unseal(vhs.portal_config, "portal-config"))))


def portal_account(vhs: Vhs, account: Account | None, address: str,
                   person: PortalIdentity) -> tuple[Account, bool]:
    """The account of a portal user: created, or switched from local keeping its ``sub``.

    Returns the account and whether it was switched just now (the person gets one mail).
    """
    switched = False
    if account is None:
        account = Account(vhs_id=vhs.id, address=address, status="active")
        db.session().add(account)
    elif account.source != "portal":
        switched = account.password_hash is not None
    account.source = "portal"
    account.password_hash = None  # the local password no longer works
    account.status = "active" if account.status == "pending" else account.status
    account.email_verified = True
    if person.name:
        account.display_name = person.name[:200]
    db.session().flush()
    return account, switched


def init_app(app: Flask) -> None:
    """A per-app cache of built connectors."""
    app.extensions["idp.portals"] = PerVhs()
