"""Mail to staff over SMTP, with STARTTLS: the standard library's smtplib, one connection per batch."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from intake.config import Settings

log = logging.getLogger(__name__)


class Mailer(Protocol):
    """Sends messages; returns, per message, whether the server took it."""

    def send(self, messages: Sequence[EmailMessage]) -> list[bool]: ...


def message(*, sender: str, to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text mail in UTF-8."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip("> ") or None)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the sender
    msg.set_content(body)
    return msg


class SmtpMailer:
    """Mails through the configured server: STARTTLS (certificate checked), then sign-in when a user is set."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _tls(self) -> ssl.SSLContext:
        ca = self.settings.smtp_ca_file
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    def send(self, messages: Sequence[EmailMessage]) -> list[bool]:
        s = self.settings
        results: list[bool] = []
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds) as smtp:
            smtp.ehlo()
            if s.smtp_starttls:
                smtp.starttls(context=self._tls())
                smtp.ehlo()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
            for msg in messages:
                try:
                    smtp.send_message(msg)
                    results.append(True)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as err:
                    # One refused address must not hold up the others; the error names no content.
                    log.warning("mail refused by the server: %s", type(err).__name__)
                    results.append(False)
        return results
