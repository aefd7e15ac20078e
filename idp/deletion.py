"""Deleting an account and every row about it (GDPR Art. 17): one function, whoever asks.

The command line (``vhskoop-idp accounts delete``), the person's own "Zugang löschen", the
console's and ``purge`` for accounts unused for IDP_INACTIVE_DAYS call ``delete``; the
leavers' lifecycle is to call the same function.
In the caller's transaction:

- every session of the account ends and every token it holds is revoked; each relying
  party that shared a session is queued its back-channel logout notice (a notice carries
  the pseudonymous ``sub`` and ``sid``, not the account, so it outlives the account and is
  delivered after it);
- the account's row goes, and with it (``ON DELETE CASCADE``) its sessions, tokens,
  authorization codes, consents, second factors, recovery codes, mail links and console
  role, and what was imported from the old login (``legacy_id``, its hash);
- the rows about its address at its VHS go too: help requests, the mails to it (sent or
  not: a sent one holds the address and a link until IDP_MAIL_DAYS), the
  Verwaltungsprogramm's cached answers.

What stays: the audit trail's events, which name the person only by the ``sub`` (a random
value that nothing links to the address any more) or by the keyed tag of a typed address
(the act of deleting is recorded by the caller); the back-channel logout notices, which
carry the ``sub`` until they are delivered and IDP_LOGOUT_NOTICE_DAYS after. An itm:PORTAL
login stays at the portal, and the entries the VHS's program or ITEM keep for the address
(the directory, the Kursmanagement-APP links) are the VHS's data, not this account's. A
later "Neuer Zugang" with the same address makes a new account with a new ``sub``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete as delete_rows
from sqlalchemy import func, select

from . import db, sessions, signals
from .models import Account, EligibilityCheck, HelpRequest, OutboxMail, SsoSession, Token


@dataclass(frozen=True)
class Deleted:
    """What one deletion removed (for the command's answer and the tests)."""

    sub: str
    sessions: int
    tokens: int
    help_requests: int
    mails: int
    eligibility_answers: int


def delete(account: Account) -> Deleted:
    """Delete ``account`` and every row about it, in the caller's transaction."""
    session = db.session()
    counted = {
        "sessions": session.scalar(select(func.count()).select_from(SsoSession).where(
            SsoSession.account_id == account.id)),
        "tokens": session.scalar(select(func.count()).select_from(Token).where(
            Token.account_id == account.id)),
    }
    holders = signals.holders(account)  # before their tokens go
    signals.forget(account)
    sessions.end_all(account)  # revokes, and queues the relying parties' logout notices
    vhs_id = account.vhs_id
    addresses = [address for address in (account.address, account.moving_to) if address]
    removed = {  # of a mover, also what was sent to and answered for the new address
        "help_requests": session.execute(delete_rows(HelpRequest).where(
            HelpRequest.vhs_id == vhs_id, HelpRequest.address.in_(addresses))).rowcount,
        "mails": session.execute(delete_rows(OutboxMail).where(
            OutboxMail.vhs_id == vhs_id, OutboxMail.recipient.in_(addresses))).rowcount,
        "eligibility_answers": session.execute(delete_rows(EligibilityCheck).where(
            EligibilityCheck.vhs_id == vhs_id, EligibilityCheck.address.in_(addresses))
        ).rowcount,
    }
    sub = account.sub
    signals.account_purged(account, holders)
    session.execute(delete_rows(Account).where(Account.id == account.id))
    session.flush()
    return Deleted(sub=sub, **counted, **removed)
