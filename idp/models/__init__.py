"""The provider's durable state as SQLAlchemy 2 typed models, one module per kind."""

from .audit import AuditEvent
from .base import Base, digest, new_secret, now
from .delivery import Deliverable, LogoutDelivery, OutboxMail
from .factors import Passkey, RecoveryCode, TotpFactor
from .grants import AuthorizationCode, Client, Consent, SsoSession, Token
from .help import HelpRequest, HelpState
from .people import (
    Account,
    AccountToken,
    ConsoleRole,
    DirectoryEntry,
    EligibilityCheck,
    KmaLink,
    LifecycleLease,
    Purpose,
    Role,
    Source,
    Status,
    Vhs,
)
from .signals import SsfEvent, SsfRemovedSubject, SsfStream

__all__ = [
    "Account", "AccountToken", "AuditEvent", "AuthorizationCode", "Base", "Client",
    "ConsoleRole", "Consent", "Deliverable", "DirectoryEntry", "EligibilityCheck",
    "HelpRequest", "HelpState", "KmaLink", "LifecycleLease",
    "LogoutDelivery", "OutboxMail", "Passkey", "Purpose", "RecoveryCode", "Role", "Source",
    "SsfEvent", "SsfRemovedSubject", "SsfStream", "SsoSession", "Status", "Token",
    "TotpFactor", "Vhs", "digest", "new_secret", "now",
]
