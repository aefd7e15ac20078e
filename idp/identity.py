"""Who signed in: the one value that every source of a sign-in hands on.

A source (our password check, the itm:PORTAL password API, the itm:PORTAL's OpenID
provider) says who it confirmed; ``authn`` then ties that to the person's account and
fills in ``account_id`` and ``sub``. ``signin.finish`` takes only a confirmed Identity.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Account


class Via:
    """Which source confirmed the person (the audit trail's ``source``)."""

    PASSWORD = "local"  # our own Argon2id hash
    PORTAL_PASSWORD = "portal"  # the itm:PORTAL's password API
    PORTAL_OPENID = "upstream"  # the itm:PORTAL's OpenID provider (brokering)
    LINK = "link"  # a mailed activation or reset link, and the password set with it
    PASSKEY = "passkey"  # a discoverable passkey alone ("Mit Passkey anmelden")
    SESSION = "session"  # a session already open, asked for a second factor (step-up)


@dataclass(frozen=True)
class Identity:
    """A person at one VHS, as confirmed by ``via``."""

    vhs: str  # the VHS slug
    address: str  # cleaned
    via: str  # a Via
    amr: tuple[str, ...] = ("pwd",)  # RFC 8176 methods, as the source reports them
    name: str | None = None
    subject: str | None = None  # the source's own id for the person (portal user id, sub)
    account_id: int | None = None  # set once authn has found or made the account
    sub: str | None = None

    @classmethod
    def of(cls, account: Account, via: str, amr: tuple[str, ...]) -> Identity:
        """The confirmed identity of ``account``, as ``via`` confirmed it with ``amr``."""
        return cls(vhs=account.vhs.slug, address=account.address, via=via, amr=tuple(amr),
                   name=account.display_name, account_id=account.id, sub=account.sub)

    @property
    def confirmed(self) -> bool:
        """Whether the account is known (only then may a session start)."""
        return self.account_id is not None and self.sub is not None


@dataclass(frozen=True)
class Refusal:
    """A sign-in that was refused, and why (for the log and the audit trail, never shown)."""

    reason: str  # a Reason
    via: str
    vhs: str
    address: str  # cleaned; possibly not an address at all


class Reason:
    """Why a sign-in was refused."""

    MALFORMED = "malformed"  # not an address, password too long, VHS not onboarded
    UNKNOWN = "unknown_address"
    WRONG_PASSWORD = "wrong_password"
    PENDING = "account_pending"
    DISABLED = "account_disabled"
    NOT_ELIGIBLE = "not_eligible"  # the Verwaltungsprogramm said no
    PORTAL_UNAVAILABLE = "portal_unavailable"  # the VHS's itm:PORTAL cannot answer now
    # the old login could not confirm an imported account without a hash (said like a
    # wrong password: only such accounts ask it)
    LEGACY_UNAVAILABLE = "legacy_login_unavailable"
    WRONG_CODE = "wrong_code"  # a wrong or spent TOTP or recovery code at the second step
    PASSKEY_REFUSED = "passkey_refused"  # a WebAuthn assertion that did not verify
