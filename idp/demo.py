"""Demo data for ``vhskoop-idp demo``: one onboarded VHS, one account, one client."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from . import accounts, db
from .clients import Registration, register
from .models import Account, Client, Vhs

VHS = ("musterstadt", "vhs Musterstadt")
ADDRESS = "demo@vhs-musterstadt.de"
PASSWORD = "Demo-Passwort-2026"
CLIENT_ID = "demo-rp"


def seed() -> list[str]:
    """Create what is missing (idempotent) and say how to use it."""
    issuer = current_app.config["ISSUER"]
    if not db.session().scalar(select(Vhs.id).where(Vhs.slug == VHS[0])):
        accounts.add_vhs(VHS[0], VHS[1], onboarded=True)
    if not db.session().scalar(select(Account.id).where(Account.address == ADDRESS)):
        accounts.add_local(VHS[0], ADDRESS, PASSWORD, name="Demo Mitarbeiterin")
    if not db.session().scalar(select(Client.id).where(Client.client_id == CLIENT_ID)):
        register(Registration(
            client_id=CLIENT_ID,
            redirect_uris=[f"{issuer}/demo/callback"],
            post_logout_redirect_uris=[f"{issuer}/demo/"],
            public=True,
            first_party=True,
            grants=["authorization_code", "refresh_token"],
            scope="openid profile email offline_access",
        ))
    return [
        f"vhskoop-idp demo at {issuer}",
        f"  discovery: {issuer}/.well-known/openid-configuration",
        f"  login:     {issuer}/login   vhs: {VHS[1]}   e-mail: {ADDRESS}   password: {PASSWORD}",
        f"  demo client (public, PKCE): {CLIENT_ID}, redirect URI {issuer}/demo/callback",
    ]
