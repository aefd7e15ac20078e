"""What ``vhskoop-idp purge`` removes (run it daily): nothing is kept longer than needed.

- tokens, codes, SSO sessions and eligibility answers that ended ``older_than_days`` ago
  (``tokens.purge_expired``);
- mails and back-channel logout notices delivered or given up that long ago;
- pending accounts whose activation link expired unused;
- help requests closed more than IDP_HELP_REQUEST_DAYS ago;
- audit events older than IDP_AUDIT_DAYS; their IP addresses shortened (IPv4 /24,
  IPv6 /48) after IDP_AUDIT_IP_DAYS (GDPR: raw IPs only as long as attack defence needs).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import and_, delete, exists, or_, select, update

from . import audit, db, help, tokens
from .models import Account, AccountToken, AuditEvent, LogoutDelivery, OutboxMail, Purpose, Status

DAY = 86400


def purge(moment: int, older_than_days: int) -> dict[str, int]:
    """Remove and shorten what is due at ``moment``; how much of each."""
    before = moment - older_than_days * DAY
    session = db.session()
    removed = tokens.purge_expired(before)
    for name, model in (("delivered or given-up mails", OutboxMail),
                        ("logout notices", LogoutDelivery)):
        removed[name] = session.execute(delete(model).where(
            or_(model.delivered_at < before, model.failed_at < before))).rowcount
    open_link = exists().where(AccountToken.account_id == Account.id,
                               AccountToken.purpose == Purpose.ACTIVATE,
                               AccountToken.used_at.is_(None), AccountToken.voided_at.is_(None),
                               AccountToken.expires_at > moment)
    removed["pending accounts"] = session.execute(delete(Account).where(
        Account.status == Status.PENDING,
        Account.created_at < moment - current_app.config["ACTIVATION_TTL"],
        ~open_link).execution_options(synchronize_session=False)).rowcount
    removed["closed help requests"] = help.purge(
        moment - current_app.config["HELP_REQUEST_DAYS"] * DAY)
    removed["audit events"] = session.execute(delete(AuditEvent).where(
        AuditEvent.at < moment - current_app.config["AUDIT_DAYS"] * DAY)).rowcount
    removed["audit IPs shortened"] = _shorten_ips(moment - current_app.config["AUDIT_IP_DAYS"]
                                                  * DAY)
    return removed


def _shorten_ips(before: int) -> int:
    """Shorten the IP addresses of events before ``before``; a shortened one ends in /NN."""
    session = db.session()
    rows = session.execute(select(AuditEvent.id, AuditEvent.ip).where(
        AuditEvent.at < before, AuditEvent.ip.is_not(None),
        AuditEvent.ip.not_like("%/%"))).all()
    by_value: dict[str, list[int]] = {}
    for row_id, ip in rows:
        by_value.setdefault(audit.network(ip) or "", []).append(row_id)
    for value, ids in by_value.items():
        for start in range(0, len(ids), 500):
            session.execute(update(AuditEvent).where(and_(
                AuditEvent.id.in_(ids[start:start + 500]))).values(ip=value))
    return len(rows)
