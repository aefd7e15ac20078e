"""Registering relying parties: the rules a client's metadata must follow.

Redirect URIs are compared by exact string later (RFC 9700 4.1.3), so they are checked
strictly once, here: absolute, no fragment (RFC 6749 3.1.2), https, or http only on a
loopback host (RFC 8252 7.3), or a private-use scheme with a dot for native apps
(RFC 8252 7.1); never javascript:, data: or the like, never credentials in the URI.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from flask import Flask, current_app
from sqlalchemy import select

from keys import ALGORITHMS

from . import db
from .claims import SCOPES, SERVICE_SCOPES
from .kept import Kept
from .models import Client, digest

CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,100}$")
LOGO = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}\.(svg|png)$")
LOGOS = Path(__file__).parent / "static" / "logos"
GRANTS = ("authorization_code", "refresh_token", "client_credentials")
MIN_SECRET_LENGTH = 32


class RegistrationError(ValueError):
    """The metadata breaks a rule; the message says which."""


@dataclass
class Registration:
    """What ``clients add`` asks for."""

    client_id: str
    redirect_uris: list[str] = field(default_factory=list)
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    public: bool = False
    first_party: bool = False
    secret: str | None = None
    grants: list[str] = field(default_factory=lambda: ["authorization_code"])
    scope: str = "openid profile email"
    id_token_alg: str = "RS256"
    backchannel_logout_uri: str | None = None
    display_name: str | None = None
    logo: str | None = None
    client_uri: str | None = None
    require_mfa: bool = False  # every sign-in for it needs a second factor
    initiate_login_uri: str | None = None  # OIDC Core 4: where the service starts a sign-in
    release_legacy_id: bool = False  # the ``legacy_id`` claim (the id in the old login)


def check_redirect_uri(uri: str) -> None:
    """Raise RegistrationError unless ``uri`` may be registered as a redirect URI."""
    if not uri or len(uri) > 2000 or any(c.isspace() or ord(c) < 32 for c in uri):
        raise RegistrationError(f"malformed URI: {uri!r}")
    if "#" in uri:
        raise RegistrationError(f"redirect URI must not have a fragment: {uri}")
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise RegistrationError(f"malformed URI: {uri}") from None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not host:
            raise RegistrationError(f"malformed URI (no host): {uri}")
        if parts.username or parts.password:
            raise RegistrationError(f"redirect URI must not carry credentials: {uri}")
        if scheme == "http" and not _loopback(host):
            raise RegistrationError(
                f"http redirect URIs are only allowed to a loopback host: {uri}"
            )
        return
    if "." in scheme and parts.path and not parts.netloc:
        return  # private-use URI scheme of a native app (RFC 8252 7.1)
    raise RegistrationError(f"unsupported redirect URI scheme {scheme or '(none)'!r}: {uri}")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate(reg: Registration) -> None:
    """Raise RegistrationError for the first rule ``reg`` breaks."""
    if not CLIENT_ID.match(reg.client_id or ""):
        raise RegistrationError(
            "client id must be 1 to 100 characters of letters, digits and . _ ~ -"
        )
    if reg.public and reg.secret:
        raise RegistrationError("a public client has no secret")
    if reg.secret is not None and len(reg.secret) < MIN_SECRET_LENGTH:
        raise RegistrationError(f"a client secret must be at least {MIN_SECRET_LENGTH} characters")
    if "authorization_code" in reg.grants and not reg.redirect_uris:
        raise RegistrationError("the authorization_code grant needs at least one --redirect-uri")
    for uri in [*reg.redirect_uris, *reg.post_logout_redirect_uris]:
        check_redirect_uri(uri)
    if reg.backchannel_logout_uri is not None:
        check_redirect_uri(reg.backchannel_logout_uri)
        if not reg.backchannel_logout_uri.lower().startswith(("https://", "http://")):
            raise RegistrationError("the back-channel logout URI must be https (or http on "
                                    "a loopback host)")
    _check_presentation(reg.display_name, reg.logo, reg.client_uri, reg.initiate_login_uri)
    if reg.id_token_alg not in ALGORITHMS:
        raise RegistrationError(f"ID-token algorithm must be one of {', '.join(ALGORITHMS)}")
    validate_rules(reg)
    if db.session().scalar(select(Client.id).where(Client.client_id == reg.client_id)):
        raise RegistrationError(f"a client {reg.client_id!r} exists already")


def validate_rules(reg: Registration) -> None:
    """The rules of grants and scopes, at registration and at ``permit``."""
    unknown = [g for g in reg.grants if g not in GRANTS]
    if unknown:
        raise RegistrationError(f"unknown grant {unknown[0]!r}; choose from {', '.join(GRANTS)}")
    if "refresh_token" in reg.grants and "authorization_code" not in reg.grants:
        raise RegistrationError("the refresh_token grant needs the authorization_code grant")
    if reg.public and "client_credentials" in reg.grants:
        raise RegistrationError("a public client cannot use the client_credentials grant")
    unknown = [s for s in reg.scope.split() if s not in SCOPES + SERVICE_SCOPES]
    if unknown:
        raise RegistrationError(f"unknown scope {unknown[0]!r}; choose from "
                                f"{' '.join(SCOPES + SERVICE_SCOPES)}")
    if any(s in SERVICE_SCOPES for s in reg.scope.split()) and \
            "client_credentials" not in reg.grants:
        raise RegistrationError("the scopes ssf.manage and ssf.read need the "
                                "client_credentials grant")


def register(reg: Registration) -> tuple[Client, str | None]:
    """Store a validated client; returns it and a generated secret (shown once) if any."""
    validate(reg)
    generated = None
    secret = reg.secret
    if not reg.public and secret is None:
        secret = generated = secrets.token_urlsafe(32)
    client = Client(
        client_id=reg.client_id,
        secret_hash=digest(secret) if secret else None,
        public=reg.public,
        first_party=reg.first_party,
        redirect_uris=list(dict.fromkeys(reg.redirect_uris)),
        post_logout_redirect_uris=list(dict.fromkeys(reg.post_logout_redirect_uris)),
        grant_types=list(dict.fromkeys(reg.grants)),
        scope=" ".join(dict.fromkeys(reg.scope.split())),
        id_token_signed_response_alg=reg.id_token_alg,
        backchannel_logout_uri=reg.backchannel_logout_uri,
        display_name=(reg.display_name or "").strip() or None,
        logo=reg.logo or None,
        client_uri=reg.client_uri or None,
        require_mfa=reg.require_mfa,
        initiate_login_uri=reg.initiate_login_uri or None,
        release_legacy_id=reg.release_legacy_id,
    )
    db.session().add(client)
    db.session().flush()
    return client, generated


def release_legacy_id(client: Client, release: bool) -> bool:
    """Whether ``client`` gets the ``legacy_id`` claim (the person's id in the login this
    provider replaced) in ID tokens and at userinfo; whether that changed."""
    changed = client.release_legacy_id != release
    client.release_legacy_id = release
    return changed


def _check_presentation(name: str | None, logo: str | None, home: str | None,
                        initiate_login: str | None = None) -> None:
    if name is not None and not 0 < len(name.strip()) <= 100:
        raise RegistrationError("the display name must be 1 to 100 characters")
    if logo is not None and not (LOGO.match(logo) and (LOGOS / logo).is_file()):
        raise RegistrationError(f"the logo must be a file in {LOGOS} (.svg or .png), "
                                f"not {logo!r}")
    for uri, what in ((home, "the home page"), (initiate_login, "the initiate-login URI")):
        if uri is not None:
            check_redirect_uri(uri)
            if not uri.lower().startswith(("https://", "http://")):
                raise RegistrationError(f"{what} must be https (or http on a loopback host)")


def find(client_id: str) -> Client:
    """The client ``client_id``; RegistrationError when there is none."""
    client = db.session().scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        raise RegistrationError(f"unknown client {client_id!r} (see `vhskoop-idp clients list`)")
    return client


def present(client: Client, name: str | None = None, logo: str | None = None,
            home: str | None = None, initiate_login: str | None = None) -> Client:
    """Change what people see of a client: its name, logo and home page, and where it
    starts a sign-in of its own."""
    _check_presentation(name, logo, home, initiate_login)
    if name is not None:
        client.display_name = name.strip()
    if logo is not None:
        client.logo = logo
    if home is not None:
        client.client_uri = home
    if initiate_login is not None:
        client.initiate_login_uri = initiate_login
    return client


def way_in(client: Client, login_hint: str | None = None) -> str | None:
    """Where a person signed in here goes to reach ``client``: its initiate-login URI with
    ``iss`` (OpenID Connect Core 1.0 section 4; the service starts a sign-in, which single
    sign-on answers at once), ``login_hint`` and its home page as ``target_link_uri``;
    else its home page; else nothing."""
    if not client.initiate_login_uri:
        return client.client_uri
    query = {"iss": current_app.config["ISSUER"], "login_hint": login_hint,
             "target_link_uri": client.client_uri}
    joiner = "&" if "?" in client.initiate_login_uri else "?"
    return client.initiate_login_uri + joiner + urlencode(
        {key: value for key, value in query.items() if value})


def redirect_to(client: Client, redirect_uris: list[str],
                post_logout_redirect_uris: list[str] | None = None,
                backchannel_logout_uri: str | None = None) -> Client:
    """Replace a client's registered redirect URIs (the demo does it at every start)."""
    for uri in [*redirect_uris, *(post_logout_redirect_uris or [])]:
        check_redirect_uri(uri)
    client.redirect_uris = list(dict.fromkeys(redirect_uris))
    if post_logout_redirect_uris is not None:
        client.post_logout_redirect_uris = list(dict.fromkeys(post_logout_redirect_uris))
    if backchannel_logout_uri is not None:
        check_redirect_uri(backchannel_logout_uri)
        client.backchannel_logout_uri = backchannel_logout_uri
    return client


def permit(client: Client, scope: str | None, grants: list[str] | None) -> Client:
    """Change what a client may ask for (``clients set --scope --grant``), checked as at
    registration."""
    reg = Registration(client_id=client.client_id, redirect_uris=client.redirect_uris,
                       public=client.public, secret=None,
                       grants=list(grants) if grants else list(client.grant_types),
                       scope=scope if scope is not None else client.scope)
    validate_rules(reg)
    client.scope = " ".join(dict.fromkeys(reg.scope.split()))
    client.grant_types = reg.grants
    return client


def rotate_secret(client: Client) -> str:
    """Give a confidential client a new generated secret (returned once; the old one stops
    working at once)."""
    if client.public:
        raise RegistrationError(f"{client.client_id} is a public client: it has no secret")
    secret = secrets.token_urlsafe(32)
    client.secret_hash = digest(secret)
    return secret


def services() -> list[Client]:
    """The first-party services people may go on to (those with a home page), by name."""
    found = db.session().scalars(select(Client).where(Client.first_party,
                                                      Client.client_uri.is_not(None)))
    return sorted(found, key=lambda client: client.name.casefold())


def every() -> list[Client]:
    """Every registered client, by id."""
    return list(db.session().scalars(select(Client).order_by(Client.client_id)))



def _read(client_id: str) -> Client | None:
    session = db.session()
    client = session.scalar(select(Client).where(Client.client_id == client_id))
    if client is not None:
        session.expunge(client)  # kept for later requests: no session may own it
    return client


def registered(client_id: str) -> Client | None:
    """The registered client ``client_id`` as the protocol reads it, kept for
    IDP_CLIENTS_RELOAD_SECONDS (``idp.kept``; a detached, read-only copy), or None."""
    return current_app.extensions["idp.clients"].get(client_id, lambda: _read(client_id))


def init_app(app: Flask) -> None:
    """The per-app store of kept registrations."""
    app.extensions["idp.clients"] = Kept(Client, app.config["CLIENTS_RELOAD_SECONDS"])
