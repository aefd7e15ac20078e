"""Brokering to an itm:PORTAL that speaks OpenID Connect ("Mit itm:PORTAL anmelden").

Here the provider is a relying party of the VHS's portal (Authlib's client): the
authorization code flow with PKCE (S256), ``state`` and ``nonce``; the portal's ID token
is checked against its JWKS (signature, ``iss``, ``aud``, ``exp``, ``nonce``, ``at_hash``)
and its ``email`` claim names the person. Then the same rules as for a password login
apply: the Verwaltungsprogramm must say "eligible", and the person keeps one ``sub``.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from flask import Flask, current_app, session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from adapters.address import clean, is_plausible

from . import db
from .models import Vhs
from .sealing import seal, unseal

PENDING_SECONDS = 600
METADATA_SECONDS = 3600


class UpstreamError(Exception):
    """The upstream sign-in failed; the message is for the log, not for the person."""


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


@dataclass(frozen=True)
class UpstreamPerson:
    """Who the upstream provider says signed in."""

    vhs: Vhs
    address: str
    subject: str
    name: str | None
    amr: tuple[str, ...]


def configure(vhs: Vhs, settings: UpstreamSettings | None) -> None:
    """Set (checked) or remove the VHS's upstream provider."""
    if settings is not None:
        settings.check()
    vhs.upstream_config = seal(asdict(settings), "upstream-config") if settings else None
    db.session().commit()


def settings_of(vhs: Vhs) -> UpstreamSettings | None:
    """The VHS's upstream provider, if it has one."""
    if not vhs.upstream_config:
        return None
    return UpstreamSettings(**unseal(vhs.upstream_config, "upstream-config"))


def _metadata(issuer: str) -> dict:
    cache = current_app.extensions["idp.upstream"]
    with cache["lock"]:
        known = cache["metadata"].get(issuer)
        if known and time.monotonic() - known[0] < METADATA_SECONDS:
            return known[1]
    try:
        response = requests.get(issuer + "/.well-known/openid-configuration", timeout=5)
        response.raise_for_status()
        metadata = response.json()
    except (requests.RequestException, ValueError) as error:
        raise UpstreamError(f"upstream discovery failed: {error}") from None
    if metadata.get("issuer") != issuer:
        raise UpstreamError("upstream discovery names another issuer")
    with cache["lock"]:
        cache["metadata"][issuer] = (time.monotonic(), metadata)
    return metadata


def _client(settings: UpstreamSettings) -> OAuth2Session:
    return OAuth2Session(settings.client_id, settings.client_secret,
                         scope="openid email profile", code_challenge_method="S256",
                         redirect_uri=current_app.config["ISSUER"] + "/upstream/callback",
                         token_endpoint_auth_method="client_secret_basic")


def start(vhs: Vhs, next_url: str | None) -> str:
    """The upstream authorization URL; what the callback needs waits in the session."""
    settings = settings_of(vhs)
    if settings is None:
        raise UpstreamError(f"VHS {vhs.slug} has no upstream provider")
    metadata = _metadata(settings.issuer)
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url, state = _client(settings).create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    session["upstream"] = {"vhs": vhs.slug, "state": state, "nonce": nonce,
                           "verifier": verifier, "next": next_url, "at": int(time.time())}
    return url


def finish(args, url: str) -> tuple[UpstreamPerson, str | None]:
    """Check the upstream's answer and its ID token; returns the person and ``next``."""
    pending = session.pop("upstream", None)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        raise UpstreamError("no upstream sign-in is pending (or it took too long)")
    if args.get("state") != pending["state"]:
        raise UpstreamError("upstream answer with a wrong state")
    vhs = db.session().query(Vhs).filter_by(slug=pending["vhs"], onboarded=True).one_or_none()
    settings = settings_of(vhs) if vhs else None
    if settings is None:
        raise UpstreamError("the VHS lost its upstream provider meanwhile")
    metadata = _metadata(settings.issuer)
    if "error" in args:
        raise UpstreamError(f"upstream answered {args.get('error')!r}")
    if "iss" in args or metadata.get("authorization_response_iss_parameter_supported"):
        if args.get("iss") != settings.issuer:  # RFC 9207: mix-up defence
            raise UpstreamError("upstream answer with a wrong or missing iss")
    client = _client(settings)
    try:
        token = client.fetch_token(metadata["token_endpoint"], authorization_response=url,
                                   code_verifier=pending["verifier"], state=pending["state"])
        keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=5).json())
        decoded = jwt.decode(token["id_token"], keys,
                             algorithms=metadata.get("id_token_signing_alg_values_supported",
                                                     ["RS256"]))
        claims = CodeIDToken(decoded.claims, decoded.header, options={
            "iss": {"essential": True, "value": settings.issuer},
            "aud": {"essential": True, "value": settings.client_id}},
            params={"nonce": pending["nonce"], "access_token": token["access_token"],
                    "client_id": settings.client_id})
        claims.validate(leeway=30)
    except (requests.RequestException, OAuthError, JoseError, ValueError, KeyError,
            TypeError) as error:
        raise UpstreamError(f"upstream token or ID token refused: {type(error).__name__}: "
                            f"{error}") from None
    address = clean(str(claims.get("email") or "")).value
    if not is_plausible(address) or claims.get("email_verified") is False:
        raise UpstreamError("the upstream ID token has no verified e-mail address")
    amr = claims.get("amr") if isinstance(claims.get("amr"), list) else []
    return UpstreamPerson(vhs=vhs, address=address, subject=str(claims["sub"]),
                          name=claims.get("name") if isinstance(claims.get("name"), str)
                          else None,
                          amr=tuple(str(a) for a in amr)), pending.get("next")


def init_app(app: Flask) -> None:
    """A per-app cache of upstream metadata."""
    app.extensions["idp.upstream"] = {"lock": threading.Lock(), "metadata": {}}
