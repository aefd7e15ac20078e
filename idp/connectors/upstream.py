"""The itm:PORTAL's OpenID provider as an upstream ("Mit itm:PORTAL anmelden").

Here the provider is a relying party of the VHS's portal (Authlib's client): the
authorization code flow with PKCE (S256), ``state`` and ``nonce``; the answer's ``iss``
is checked (RFC 9207 mix-up defence), the ID token against the portal's JWKS (signature,
``iss``, ``aud``, ``exp``, ``nonce``, ``at_hash``; OIDC Core 3.1.3.7), and its verified
``email`` names the person. The connector keeps nothing about a sign-in in progress:
``login_url`` returns what ``finish`` needs back, and the caller keeps it (in the browser
session). An unreachable portal is ``PortalUnavailable``; a refused answer ``UpstreamError``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from adapters import json_input
from adapters.address import clean, is_plausible

from ..identity import Identity, Via
from .base import PortalUnavailable, UpstreamError

METADATA_SECONDS = 3600
TIMEOUT = 5
MAX_BODY = 256 * 1024


@dataclass(frozen=True)
class UpstreamSettings:
    """One VHS's upstream OpenID provider and our client registration there."""

    issuer: str
    client_id: str
    client_secret: str

    def check(self) -> None:
        """Raise ValueError for the first rule broken."""
        parts = urlsplit(self.issuer)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("the upstream issuer must be https (http only on loopback)")
        if not parts.hostname or parts.query or parts.fragment:
            raise ValueError("the upstream issuer must be a plain URL")
        if not self.client_id or not self.client_secret:
            raise ValueError("give the client id and the client secret of the registration")


class OpenIdUpstream:
    """One VHS's upstream provider; its discovery document is cached for an hour."""

    def __init__(self, settings: UpstreamSettings, vhs: str, redirect_uri: str):
        settings.check()
        self.settings = settings
        self.vhs = vhs
        self.redirect_uri = redirect_uri
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict] | None = None

    def _get(self, url: str) -> dict:
        try:
            response = requests.get(url, timeout=TIMEOUT, allow_redirects=False)
            response.raise_for_status()
            if len(response.content) > MAX_BODY:
                raise ValueError("answer too large")
            data = json_input.loads(response.content)
        except (requests.RequestException, ValueError) as error:
            raise PortalUnavailable(f"upstream {url} failed: {type(error).__name__}") from None
        if not isinstance(data, dict):
            raise PortalUnavailable(f"upstream {url} answered JSON that is not an object")
        return data

    def metadata(self) -> dict:
        """The upstream's discovery document (OIDC Discovery 1.0 section 4)."""
        with self._lock:
            if self._metadata and time.monotonic() - self._metadata[0] < METADATA_SECONDS:
                return self._metadata[1]
        metadata = self._get(self.settings.issuer + "/.well-known/openid-configuration")
        if metadata.get("issuer") != self.settings.issuer:
            raise UpstreamError("upstream discovery names another issuer")
        with self._lock:
            self._metadata = (time.monotonic(), metadata)
        return metadata

    def _client(self) -> OAuth2Session:
        return OAuth2Session(self.settings.client_id, self.settings.client_secret,
                             scope="openid email profile", code_challenge_method="S256",
                             redirect_uri=self.redirect_uri,
                             token_endpoint_auth_method="client_secret_basic")

    def login_url(self) -> tuple[str, dict]:
        """The upstream authorization URL, and the state, nonce and verifier to keep."""
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        url, state = self._client().create_authorization_url(
            self.metadata()["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
        return url, {"state": state, "nonce": nonce, "verifier": verifier}

    def finish(self, args: Mapping[str, str], url: str, stash: dict) -> Identity:
        """Check the callback against ``stash``, redeem the code, verify the ID token."""
        if not stash.get("state") or args.get("state") != stash["state"]:
            raise UpstreamError("upstream answer with a wrong state")
        metadata = self.metadata()
        if "error" in args:
            raise UpstreamError(f"upstream answered {str(args.get('error'))[:60]!r}")
        if "iss" in args or metadata.get("authorization_response_iss_parameter_supported"):
            if args.get("iss") != self.settings.issuer:
                raise UpstreamError("upstream answer with a wrong or missing iss")
        try:
            token = self._client().fetch_token(
                metadata["token_endpoint"], authorization_response=url,
                code_verifier=stash["verifier"], state=stash["state"], timeout=TIMEOUT)
        except requests.RequestException as error:
            raise PortalUnavailable(f"upstream token endpoint: {type(error).__name__}") from None
        except (OAuthError, ValueError, KeyError, RecursionError) as error:
            raise UpstreamError(f"upstream token refused: {type(error).__name__}") from None
        keys = self._get(metadata["jwks_uri"])
        claims = self._verified_claims(token, keys, metadata, stash["nonce"])
        address = clean(str(claims.get("email") or "")).value
        if not is_plausible(address) or claims.get("email_verified") is False:
            raise UpstreamError("the upstream ID token has no verified e-mail address")
        amr = claims.get("amr") if isinstance(claims.get("amr"), list) else []
        name = claims.get("name") if isinstance(claims.get("name"), str) else None
        return Identity(vhs=self.vhs, address=address, via=Via.PORTAL_OPENID,
                        amr=tuple(str(a) for a in amr) or ("fed",), name=name,
                        subject=str(claims["sub"]))

    def _verified_claims(self, token: dict, keys: dict, metadata: dict, nonce: str):
        try:
            decoded = jwt.decode(token["id_token"], KeySet.import_key_set(keys),
                                 algorithms=metadata.get("id_token_signing_alg_values_supported",
                                                         ["RS256"]))
            claims = CodeIDToken(decoded.claims, decoded.header, options={
                "iss": {"essential": True, "value": self.settings.issuer},
                "aud": {"essential": True, "value": self.settings.client_id}},
                params={"nonce": nonce, "access_token": token.get("access_token"),
                        "client_id": self.settings.client_id})
            claims.validate(leeway=30)
        except (JoseError, ValueError, KeyError, TypeError) as error:
            raise UpstreamError(f"upstream ID token refused: {type(error).__name__}: "
                                f"{error}"[:300]) from None
        return claims

    def close(self) -> None:
        """Nothing held open (one HTTP request each time)."""
