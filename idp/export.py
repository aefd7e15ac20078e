"""What the provider holds about one person, as one document (GDPR Art. 15 and 20).

``held(account)`` gathers it; "Meine Daten" (``/account/data``) shows it and
``/account/data.json`` hands it over (``as_json``). Both come from the same document, so the
page never shows less than the download. Each field is described in the documentation's
"Your data" page (docs/personal-data.md), and ``FORMAT`` changes when a field's meaning does.

Nothing secret is in it: no password hash, no second-factor secret, no token or code, no
mail body (those carry sign-in links); an administrator's act names the administrator as
the audit trail shows it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import select

from . import audit, claims, db, factors, help, labels
from .models import (
    Account,
    AuthorizationCode,
    Client,
    Consent,
    ConsoleRole,
    HelpRequest,
    OutboxMail,
    Source,
    SsoSession,
    Token,
    now,
)

FORMAT = "vhskoop-idp/personal-data/1"
AUDIT_LIMIT = 10_000  # events in one document (IDP_AUDIT_DAYS keeps far fewer per person)


def origin(account: Account) -> str:
    """Where the account came from: ``itm_portal``, ``import`` or ``new_access``."""
    if account.source == Source.PORTAL:
        return "itm_portal"
    if account.legacy_id or account.imported_at:
        return "import"
    return "new_access"


def held(account: Account) -> dict:
    """Everything held about ``account``, times as seconds (``as_json`` writes them ISO)."""
    session = db.session()
    role = session.scalar(select(ConsoleRole.role).where(ConsoleRole.account_id == account.id))
    return {
        "format": FORMAT,
        "issuer": current_app.config["ISSUER"],
        "generated_at": now(),
        "account": {
            "vhs": {"slug": account.vhs.slug, "name": account.vhs.name},
            "email": account.address,
            "email_verified": bool(account.email_verified),
            "name": account.display_name,
            "sub": account.sub,
            "status": account.status,
            "origin": origin(account),
            "password_checked_by": "itm_portal" if account.source == Source.PORTAL
            else "this_provider",
            "legacy_id": account.legacy_id,
            "console_role": role,
            "created_at": account.created_at,
            "last_sign_in_at": account.last_login_at,
            "password_changed_at": account.password_changed_at,
            "imported_at": account.imported_at,
            "welcome_mail_at": account.welcomed_at,
            "program_says_no_since_at": account.leaving_since,
            "closed_at": account.left_at,
            "inactivity_mail_at": account.inactivity_warned_at,
            "kept_until_at": account.keep_until,
            "keep_reason": account.keep_reason,
            "program_lists_you_at": account.moving_to,
            "program_lists_you_there_since_at": account.moving_since,
        },
        "sessions": [{
            "device": labels.device(row.user_agent),
            "user_agent": row.user_agent,
            "network": row.ip,
            "stay_signed_in": bool(row.remember),
            "signed_in_at": row.auth_time,
            "started_at": row.created_at,
            "last_active_at": row.last_seen_at,
            "expires_at": row.expires_at,
            "ended_at": row.ended_at,
        } for row in session.scalars(select(SsoSession).where(
            SsoSession.account_id == account.id).order_by(SsoSession.created_at.desc()))],
        "services": _services(account),
        "second_factors": _factors(account),
        "mails": [{
            "kind": row.kind,
            "text": labels.mail(row.kind),
            "subject": row.subject,
            "created_at": row.created_at,
            "state": "delivered" if row.delivered_at else "given_up" if row.failed_at
            else "waiting",
            "delivered_at": row.delivered_at,
            "given_up_at": row.failed_at,
        } for row in session.scalars(select(OutboxMail).where(
            OutboxMail.vhs_id == account.vhs_id, OutboxMail.recipient == account.address)
            .order_by(OutboxMail.created_at.desc()))],
        "help_requests": [{
            "created_at": row.created_at,
            "state": row.state,
            "message": row.message,
            "diagnosis": [{"ok": finding.ok, "text": finding.text,
                           "advice": str(finding.advice) if finding.advice else None}
                          for finding in help.findings(row)],
            "closed_at": row.closed_at,
            "refusal_reason": row.reason,
        } for row in session.scalars(select(HelpRequest).where(
            HelpRequest.vhs_id == account.vhs_id, HelpRequest.address == account.address)
            .order_by(HelpRequest.created_at.desc()))],
        "audit_events": [{
            "at": event.at,
            "kind": event.kind,
            "text": labels.kind(event.kind),
            "service": labels.service(event.client_id) or None,
            "how": labels.source(event.source) or None,
            "reason": labels.reason(event.reason) or None,
            "detail": labels.detail(event.kind, event.detail) or None,
            "by": labels.acted_by(event) or None,
            "ip": event.ip,
        } for event in audit.events(
            None, [account.sub, audit.address_tag(account.vhs.slug, account.address)],
            limit=AUDIT_LIMIT)],
    }


def _services(account: Account) -> list[dict]:
    """Each service that holds or held tokens or a consent: what it was allowed and which
    claims (with their values) it received."""
    session = db.session()
    consents = {row.client_id: row for row in session.scalars(
        select(Consent).where(Consent.account_id == account.id))}
    issued: dict[str, list[Token]] = {}
    for row in session.scalars(select(Token).where(Token.account_id == account.id)
                               .order_by(Token.issued_at)):
        issued.setdefault(row.client_id, []).append(row)
    codes: dict[str, set[str]] = {}
    for client_id, scope in session.execute(select(
            AuthorizationCode.client_id, AuthorizationCode.scope).where(
            AuthorizationCode.account_id == account.id)):
        codes.setdefault(client_id, set()).update(scope.split())
    moment = now()
    found = []
    for client in session.scalars(select(Client).where(
            Client.client_id.in_(set(consents) | set(issued) | set(codes)))
            .order_by(Client.client_id)):
        tokens = issued.get(client.client_id, [])
        scopes = set(codes.get(client.client_id, ()))
        for row in tokens:
            scopes.update(row.scope.split())
        consent = consents.get(client.client_id)
        received = dict(claims.for_scope(claims.Holder.of(account, client), " ".join(scopes)))
        found.append({
            "client_id": client.client_id,
            "name": client.name,
            "consent": {"scopes": sorted(consent.scope.split()), "granted_at": consent.granted_at}
            if consent else None,
            "scopes": sorted(scopes),
            "claims": received if scopes else {},
            "first_token_at": tokens[0].issued_at if tokens else None,
            "last_token_at": tokens[-1].issued_at if tokens else None,
            "tokens_in_force": sum(1 for row in tokens if _in_force(row, moment)),
        })
    return found


def _in_force(row: Token, moment: int) -> bool:
    access = row.access_revoked_at is None and row.access_expires_at > moment
    refresh = (row.refresh_expires_at is not None and row.refresh_revoked_at is None
               and row.refresh_used_at is None and row.refresh_expires_at > moment)
    return access or refresh


def _factors(account: Account) -> dict:
    have = factors.of(account)
    app = have.totp or have.setting_up
    return {
        "authenticator_app": {
            "confirmed": app.confirmed_at is not None,
            "created_at": app.created_at,
            "confirmed_at": app.confirmed_at,
            "last_used_at": app.last_used_at,
        } if app else None,
        "passkeys": [{
            "name": key.name,
            "synced": bool(key.synced),
            "created_at": key.created_at,
            "last_used_at": key.last_used_at,
        } for key in have.passkeys],
        "recovery_codes_left": have.recovery_left,
    }


def as_json(document: dict) -> str:
    """The document as JSON, every ``*_at`` (and ``at``) as an ISO 8601 time in UTC."""
    return json.dumps(_times(document), ensure_ascii=False, indent=2)


def _times(value, key: str = ""):
    if isinstance(value, dict):
        return {name: _times(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_times(item) for item in value]
    if (key == "at" or key.endswith("_at")) and isinstance(value, int):
        return datetime.fromtimestamp(value, timezone.utc).isoformat().replace("+00:00", "Z")
    return value
