"""Connectors to the VHS's itm:PORTAL: its password API and its OpenID provider."""

from .base import (
           CircuitBreaker,
           PortalConnector,
           PortalUnavailable,
           UpstreamConnector,
           UpstreamError,
)

__all__ = ["CircuitBreaker", "PortalConnector", "PortalUnavailable", "UpstreamConnector",
           "UpstreamError"]
