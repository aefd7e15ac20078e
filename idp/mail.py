"""Mail from the VHS's own mail server: per-VHS settings, the outbox, and the sender.

Every mail is an outbox row written in the same transaction as the change that causes it
(a pending account, a new link), so a mail server outage loses nothing. The sender claims
due rows one by one with a conditional UPDATE (a lease; on PostgreSQL the candidates are
also read with FOR UPDATE SKIP LOCKED), so two workers never send the same row; it
retries with exponential back-off and gives up after IDP_MAIL_GIVE_UP_SECONDS. SMTP cannot
promise exactly once: a worker that dies after the server accepted a mail and before the
row is marked sends it again when the lease runs out.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import select

from adapters.address import clean, is_plausible

from . import db, outbox
from .audit import address_tag
from .models import OutboxMail, Vhs, now
from .sealing import SealError, seal, unseal

SECURITY = ("starttls", "tls", "none")
LEASE_SECONDS = 300
LINK_RETRY_SECONDS = 300  # a mail with a link is tried at least this often while it works


class MailSettingsError(ValueError):
    """The SMTP settings break a rule; the message says which."""


@dataclass(frozen=True)
class MailSettings:
    """One VHS's mail server and its sender for general messages."""

    host: str
    port: int
    security: str
    sender: str
    user: str = ""
    password: str = ""

    def check(self) -> None:
        """Raise MailSettingsError for the first rule broken."""
        if not self.host or len(self.host) > 253 or any(c in self.host for c in " /\r\n"):
            raise MailSettingsError("the SMTP host must be a host name or address")
        if not 0 < self.port < 65536:
            raise MailSettingsError("the SMTP port must be between 1 and 65535")
        if self.security not in SECURITY:
            raise MailSettingsError(f"security must be one of {', '.join(SECURITY)}")
        if clean(self.sender).value != self.sender.lower() or not is_plausible(
                self.sender.lower()):
            raise MailSettingsError(f"the sender {self.sender!r} is not a plain e-mail address")
        if bool(self.user) != bool(self.password):
            raise MailSettingsError("give both the SMTP user and its password, or neither")


def settings_of(vhs: Vhs) -> MailSettings | None:
    """The VHS's mail settings; None when it has none yet."""
    if not vhs.mail_config:
        return None
    try:
        return MailSettings(**unseal(vhs.mail_config, "mail-config"))
    except SealError:
        current_app.logger.error("mail settings of vhs %s cannot be opened", vhs.slug)
        return None


def set_settings(vhs: Vhs, settings: MailSettings) -> None:
    """Store checked settings, sealed (the password is a secret)."""
    settings.check()
    vhs.mail_config = seal(asdict(settings), "mail-config")


class DialogueFailed(Exception):
    """The SMTP dialogue of a mail sent at once failed: ``step`` says where, ``error`` why."""

    def __init__(self, step: str, error: Exception):
        super().__init__(f"at {step}: {error}")
        self.step, self.error = step, error


def send_now(vhs: Vhs, row: OutboxMail) -> str:
    """Hand one mail to the VHS's server at once, not through the outbox (``test-mail``).

    Returns the mail server's host. Raises MailSettingsError without settings,
    DialogueFailed naming the step of the SMTP dialogue that failed.
    """
    settings = settings_of(vhs)
    if settings is None:
        raise MailSettingsError(f"VHS {vhs.slug} has no mail settings (vhs set-mail)")
    reached: list[str] = []
    try:
        send(settings, message(settings, row), reached)
    except (smtplib.SMTPException, OSError) as error:
        raise DialogueFailed(reached[-1] if reached else "connect", error) from error
    return settings.host


def enqueue(vhs: Vhs, recipient: str, kind: str, subject: str, locale: str = "de",
            expires_at: int | None = None, interval: int | None = None,
            **values) -> OutboxMail | None:
    """Render the mail ``kind`` and add it to the outbox (the caller commits).

    At most one mail of a kind per VHS and address within ``interval`` seconds
    (IDP_MAIL_INTERVAL_SECONDS by default): None when one was written already.
    """
    if recently_sent(vhs, recipient, kind, interval):
        return None
    row = render(vhs, recipient, kind, subject, locale, **values)
    row.expires_at = expires_at
    db.session().add(row)
    return row


def recently_sent(vhs: Vhs, recipient: str, kind: str, interval: int | None = None) -> bool:
    """Whether a mail of ``kind`` went to ``recipient`` within ``interval`` seconds
    (IDP_MAIL_INTERVAL_SECONDS by default)."""
    since = now() - (current_app.config["MAIL_INTERVAL_SECONDS"] if interval is None
                     else interval)
    return db.session().scalar(select(OutboxMail.id).where(
        OutboxMail.vhs_id == vhs.id, OutboxMail.recipient == recipient,
        OutboxMail.kind == kind, OutboxMail.created_at > since).limit(1)) is not None


def render(vhs: Vhs, recipient: str, kind: str, subject: str, locale: str = "de",
           **values) -> OutboxMail:
    """The mail ``kind`` (templates mail/KIND.txt and mail/base.html) as an unsaved row."""
    issuer = current_app.config["ISSUER"]
    with force_locale(locale):
        context = {"vhs": vhs, "issuer": issuer, "recipient": recipient, **values}
        text = render_template(f"mail/{kind}.txt", **context)
        return OutboxMail(
            vhs_id=vhs.id, vhs=vhs, recipient=recipient, kind=kind, locale=locale,
            subject=str(subject), text_body=text,
            html_body=render_template("mail/base.html", body=text, **context),
            message_id=make_msgid(domain=urlsplit(issuer).hostname),
            created_at=now(), next_attempt_at=now(),
        )


def message(settings: MailSettings, row: OutboxMail) -> EmailMessage:
    """The MIME message of an outbox row: plain text and HTML, with proper headers."""
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = row.recipient
    mail["Subject"] = row.subject
    mail["Date"] = format_datetime(datetime.fromtimestamp(row.created_at, timezone.utc))
    mail["Message-ID"] = row.message_id
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    mail.set_content(row.text_body)
    mail.add_alternative(row.html_body, subtype="html")
    mail["Content-Language"] = row.locale  # after the content: set_content drops Content-*
    return mail


def send(settings: MailSettings, mail: EmailMessage, reached: list[str] | None = None) -> None:
    """Hand one message to the VHS's mail server; ``reached`` collects the steps of the
    SMTP dialogue begun, so the last one is where a failure happened."""
    reached = [] if reached is None else reached
    timeout = current_app.config["MAIL_TIMEOUT_SECONDS"]
    context = ssl.create_default_context()
    reached.append(f"connect {settings.host}:{settings.port}"
                   + (" (TLS)" if settings.security == "tls" else ""))
    if settings.security == "tls":
        server = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with server:
        if settings.security == "starttls":
            reached.append("STARTTLS")
            server.starttls(context=context)
        if settings.user:
            reached.append("AUTH")
            server.login(settings.user, settings.password)
        reached.append("MAIL FROM / RCPT TO / DATA")
        server.send_message(mail)


def _permanent(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def deliver_due(limit: int = 50) -> dict[str, int]:
    """Send what is due; returns counts of delivered, retried, failed, waiting rows."""
    return outbox.deliver_due(OutboxMail, _deliver, LEASE_SECONDS,
                              {"delivered": 0, "retried": 0, "failed": 0, "waiting": 0}, limit)


def _deliver(row: OutboxMail) -> str:
    moment = now()
    if row.expires_at is not None and moment >= row.expires_at:
        row.failed_at, row.lease_until = moment, None
        row.last_error = "the link in it expired before it could be delivered"
        current_app.logger.error("mail %s (%s) of vhs %s given up: its link expired before "
                                 "delivery", row.id, row.kind, row.vhs.slug)
        return "failed"
    settings = settings_of(row.vhs)
    if settings is None:
        row.lease_until, row.next_attempt_at = None, moment + 60
        return "waiting"  # until `vhs set-mail`; not an attempt
    try:
        send(settings, message(settings, row))
    except (smtplib.SMTPException, OSError) as error:
        give_up = 0 if _permanent(error) else current_app.config["MAIL_GIVE_UP_SECONDS"]
        longest = LINK_RETRY_SECONDS if row.expires_at else 3600
        if outbox.retry_later(row, error, first_delay=30, give_up_after=give_up,
                              longest_delay=longest):
            current_app.logger.error("mail %s (%s) of vhs %s given up after %d attempts: %s",
                                     row.id, row.kind, row.vhs.slug, row.attempts,
                                     row.last_error)
            return "failed"
        current_app.logger.warning("mail %s of vhs %s not delivered (attempt %d): %s",
                                   row.id, row.vhs.slug, row.attempts, row.last_error)
        return "retried"
    row.delivered_at, row.lease_until = moment, None
    row.attempts += 1
    current_app.logger.info("mail %s (%s) of vhs %s delivered to %s, message id %s, "
                            "attempt %d", row.id, row.kind, row.vhs.slug,
                            address_tag(row.vhs.slug, row.recipient), row.message_id,
                            row.attempts)
    return "delivered"
