"""What ``vhskoop-idp purge`` removes (run it daily): nothing is kept longer than needed
(GDPR Art. 5(1)(e)).

Each kind of data has one retention period, declared once among the settings (those with
``kept`` in ``idp.settings.SETTINGS``, all in days), and ``purge`` enforces each:

- IDP_SESSIONS_DAYS: tokens, codes and SSO sessions that ended or expired that long ago,
  and the Verwaltungsprogramm's answers last given that long ago (``tokens.purge_expired``);
- IDP_MAIL_DAYS, IDP_LOGOUT_NOTICE_DAYS: mails and back-channel logout notices delivered
  or given up that long ago;
- IDP_HELP_REQUEST_DAYS: help requests closed that long ago;
- IDP_PENDING_DAYS: accounts that never followed their activation link, made that long
  ago (never while a link still works);
- IDP_INACTIVE_DAYS (0: off): accounts nobody signed in to for that long get one mail 30
  days before, then are closed as leavers (and deleted IDP_LEAVER_DELETE_DAYS later, as
  "Zugang löschen" deletes); a sign-in in between keeps them;
- IDP_LEAVER_DELETE_DAYS: accounts closed as "ausgeschieden" that long ago
  (``leavers.delete_due``, which the lifecycle pass runs too);
- IDP_AUDIT_DAYS: audit events older than that; IDP_AUDIT_IP_DAYS: their IP addresses
  shortened (IPv4 /24, IPv6 /48) after that (raw IPs only as long as attack defence needs).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import and_, delete, exists, func, or_, select, update

from . import audit, db, help, leavers, notices, signals, tokens
from .models import Account, AccountToken, AuditEvent, LogoutDelivery, OutboxMail, Purpose, Status
from .settings import SETTINGS

DAY = 86400
WARN_DAYS = 30  # the mail "Ihr Zugang wird geschlossen" goes out this long before
PERIODS = tuple(name for name, setting in SETTINGS.items() if setting.kept)


def periods() -> dict[str, int]:
    """Each retention setting and its value in force, in days."""
    return {name: int(current_app.config[name]) for name in PERIODS}


def purge(moment: int) -> dict[str, dict[str, int]]:
    """Remove and shorten what is due at ``moment``: per retention setting, how much of
    each kind."""
    days = periods()

    def before(name: str) -> int:
        return moment - days[name] * DAY

    session = db.session()
    done = {"SESSIONS_DAYS": tokens.purge_expired(before("SESSIONS_DAYS"))}
    for name, what, model in (("MAIL_DAYS", "delivered or given-up mails", OutboxMail),
                              ("LOGOUT_NOTICE_DAYS", "logout notices", LogoutDelivery)):
        done[name] = {what: session.execute(delete(model).where(
            or_(model.delivered_at < before(name), model.failed_at < before(name)))).rowcount}
    done["SSF_EVENT_DAYS"] = {"security events": signals.purge(before("SSF_EVENT_DAYS"))}
    done["HELP_REQUEST_DAYS"] = {"closed help requests": help.purge(before("HELP_REQUEST_DAYS"))}
    open_link = exists().where(AccountToken.account_id == Account.id,
                               AccountToken.purpose == Purpose.ACTIVATE,
                               AccountToken.used_at.is_(None), AccountToken.voided_at.is_(None),
                               AccountToken.expires_at > moment)
    done["PENDING_DAYS"] = {"pending accounts": session.execute(delete(Account).where(
        Account.status == Status.PENDING, Account.created_at < before("PENDING_DAYS"),
        ~open_link).execution_options(synchronize_session=False)).rowcount}
    done["INACTIVE_DAYS"] = (_inactive(moment, days["INACTIVE_DAYS"])
                             if days["INACTIVE_DAYS"] else {"warned": 0, "closed": 0})
    done["LEAVER_DELETE_DAYS"] = {"closed leavers' accounts": leavers.delete_due(moment)}
    done["AUDIT_DAYS"] = {"audit events": session.execute(delete(AuditEvent).where(
        AuditEvent.at < before("AUDIT_DAYS"))).rowcount}
    done["AUDIT_IP_DAYS"] = {"audit IPs shortened": _shorten_ips(before("AUDIT_IP_DAYS"))}
    return {name: done[name] for name in PERIODS}


def _inactive(moment: int, days: int) -> dict[str, int]:
    """Accounts nobody signed in to (or, never signed in to, made) ``days`` ago: each gets
    one mail WARN_DAYS before (earlier when ``days`` is shorter), and is closed as a
    leaver once the mail is WARN_DAYS old and still nobody signed in; ``leavers.delete_due``
    deletes it IDP_LEAVER_DELETE_DAYS later. A sign-in clears the warning."""
    last = func.coalesce(Account.last_login_at, Account.created_at)
    warn = min(WARN_DAYS, days // 2)
    session = db.session()
    due = list(session.scalars(select(Account).where(
        Account.status == Status.ACTIVE, Account.inactivity_warned_at.is_(None),
        last < moment - (days - warn) * DAY, leavers.unkept(moment))))
    for account in due:
        notices.inactive(account, moment + warn * DAY,
                         account.last_login_at or account.created_at)
        account.inactivity_warned_at = moment
    closing = list(session.scalars(select(Account).where(
        Account.status == Status.ACTIVE, last < moment - days * DAY,
        Account.inactivity_warned_at <= moment - warn * DAY, leavers.unkept(moment))))
    leavers.close(closing, moment, "inactive")
    return {"warned": len(due), "closed": len(closing)}


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
