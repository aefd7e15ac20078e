"""Each VHS's itm:PORTAL: its settings (sealed), and its connectors, built once per VHS and
instance and rebuilt when the settings change."""

from __future__ import annotations

import functools
import time
from dataclasses import asdict

from flask import Flask, current_app

from . import metrics
from .built import PerVhs
from .connectors.portal import HttpPortalConnector, PortalSettings
from .connectors.upstream import OpenIdUpstream, UpstreamSettings
from .models import Vhs
from .sealing import seal, unseal

CALLBACK_PATH = "/upstream/callback"


def configure(vhs: Vhs, settings: PortalSettings | None) -> None:
    """Set (checked) or remove the VHS's portal password API."""
    if settings is not None:
        settings.check()
    vhs.portal_config = seal(asdict(settings), "portal-config") if settings else None
    vhs.portal_changed_at = time.time_ns() // 1000


def configure_upstream(vhs: Vhs, settings: UpstreamSettings | None) -> str:
    """Set (checked) or remove the VHS's portal OpenID provider; the redirect URI to
    register there."""
    if settings is not None:
        settings.check()
    vhs.upstream_config = seal(asdict(settings), "upstream-config") if settings else None
    vhs.portal_changed_at = time.time_ns() // 1000
    return current_app.config["ISSUER"] + CALLBACK_PATH


def portal_for(vhs: Vhs) -> HttpPortalConnector | None:
    """The VHS's password connector (one HTTP session and circuit breaker per VHS)."""
    if not vhs.portal_config:
        return None
    return current_app.extensions["idp.portals"].get(
        vhs.id, vhs.portal_changed_at, lambda: HttpPortalConnector(
            PortalSettings(**unseal(vhs.portal_config, "portal-config")), vhs.slug,
            timed=functools.partial(metrics.timed_portal, vhs.slug)))


def upstream_for(vhs: Vhs) -> OpenIdUpstream | None:
    """The VHS's OpenID upstream, if it has one."""
    if not vhs.upstream_config:
        return None
    return current_app.extensions["idp.upstreams"].get(
        vhs.id, vhs.portal_changed_at, lambda: OpenIdUpstream(
            UpstreamSettings(**unseal(vhs.upstream_config, "upstream-config")), vhs.slug,
            current_app.config["ISSUER"] + CALLBACK_PATH))


def configure_legacy_login(vhs: Vhs, settings: PortalSettings | None) -> None:
    """Set (checked) or remove the VHS's own old login (``legacy_login_for``)."""
    if settings is not None:
        settings.check()
    vhs.legacy_login_config = (seal(asdict(settings), "legacy-login-config") if settings
                               else None)
    vhs.portal_changed_at = time.time_ns() // 1000


def legacy_login_for(vhs: Vhs) -> HttpPortalConnector | None:
    """The old login that confirms, once, the password of an imported account that came
    without a hash: the VHS's own, else IDP_LEGACY_LOGIN_URL, else None. It speaks the
    itm:PORTAL password API (only ``verify`` is asked), with its timeouts and breaker."""
    built = current_app.extensions["idp.legacy_logins"]
    if vhs.legacy_login_config:
        return built.get(vhs.id, vhs.portal_changed_at, lambda: HttpPortalConnector(
            PortalSettings(**unseal(vhs.legacy_login_config, "legacy-login-config")),
            vhs.slug))
    url = current_app.config["LEGACY_LOGIN_URL"]
    if not url:
        return None
    return built.get(0, url, lambda: HttpPortalConnector(
        PortalSettings(url, current_app.config["LEGACY_LOGIN_CREDENTIAL"]), "*"))


def init_app(app: Flask) -> None:
    """Per-app caches of built connectors."""
    app.extensions["idp.portals"] = PerVhs()
    app.extensions["idp.legacy_logins"] = PerVhs()  # key 0: the global one
    app.extensions["idp.upstreams"] = PerVhs()
