"""The demo's "vhs Altstadt": people imported from the old vhsKOOP login, one password
hash of each accepted format and one person without a hash, whom the old login (the
itm:PORTAL simulator speaks its API) confirms once.

The import runs once, when the VHS is new, through the same ``idp.imports`` as
``vhskoop-idp accounts import``; the old login's address follows the port at every start.
"""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from flask_babel import lazy_gettext as _l
from passlib import hash as formats

from .. import imports, mail, portals, tenants
from ..connectors.portal import PortalSettings
from ..imports import Line
from .portal_sim import PortalSimulator

SLUG, NAME, DOMAIN = "altstadt", "vhs Altstadt", "vhs-altstadt.de"
PASSWORD = "Altes-vhsKOOP-Passwort"
PEOPLE = (  # local part, the format of the exported hash (None: no hash), the demo's words
    ("bcrypt", formats.bcrypt.using(ident="2y"), _l("Hash bcrypt ($2y$, wie PHP ihn schreibt)")),
    ("argon2", formats.argon2.using(type="i"), _l("Hash Argon2i")),
    ("django", formats.django_pbkdf2_sha256, _l("Hash PBKDF2-SHA256 (Django)")),
    ("sha512", formats.sha512_crypt.using(rounds=5000), _l("Hash SHA-512-crypt ($6$)")),
    ("sha256", formats.sha256_crypt.using(rounds=5000), _l("Hash SHA-256-crypt ($5$)")),
    ("ohne-hash", None, _l("ohne Hash: der alte Login bestätigt das Passwort einmal")),
)


@cache
def exported_hash(local: str) -> str:
    """The old login's hash of the demo password for the person ``local`` (empty: none);
    made once per process: bcrypt and PBKDF2 at their real cost take a second together."""
    scheme = next(scheme for name, scheme, _ in PEOPLE if name == local)
    return scheme.hash(PASSWORD) if scheme else ""


@cache
def _kept_by_old_login() -> str:
    """The old login's own (Argon2id) hash of the demo password, made once per process."""
    return PasswordHasher().hash(PASSWORD)


def address(local: str) -> str:
    """The address of a person of vhs Altstadt."""
    return f"{local}@{DOMAIN}"


class OldLogin:
    """The old vhsKOOP login, kept read-only after the cut-over (a simulator here)."""

    def __init__(self):
        hashed = _kept_by_old_login()
        self.simulator = PortalSimulator(
            [{"email": address(local), "id": f"koop-{local}", "password_hash": hashed}
             for local, scheme, _ in PEOPLE if scheme is None],
            secrets.token_urlsafe(24)).start()

    def seed(self, mailbox_port: int) -> None:
        """vhs Altstadt with its imported people (once), its mail server and old login."""
        vhs = tenants.onboarded(SLUG)
        if vhs is None:
            vhs = tenants.add(SLUG, NAME, True)
            imports.run((Line(number, {
                "vhs": SLUG, "email": address(local), "name": f"{local.title()} Altstadt",
                "legacy_id": f"koop-{local}", "state": "active",
                "password_hash": exported_hash(local)})
                for number, (local, _, _) in enumerate(PEOPLE, start=2)), dry_run=False)
        mail.set_settings(vhs, mail.MailSettings(host="127.0.0.1", port=mailbox_port,
                                                 security="none", sender=f"info@{DOMAIN}"))
        portals.configure_legacy_login(vhs, PortalSettings(
            base_url=self.simulator.url, credential=self.simulator.credential))

    def stop(self) -> None:
        """Stop the simulator."""
        self.simulator.stop()
