"""A local SMTP server for the tests (aiosmtpd): STARTTLS with a certificate made for the test, sign-in required.

It listens on a free loopback port and keeps every message it accepts, parsed, for the test to read.
The `mail` fixture starts one and points phananh's settings at it (import it into a test module).
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from intake.config import get_settings
from tests.tls import self_signed

USER, PASSWORD = "phananh", "mat-khau-thu-12345"


@dataclass
class Received:
    """What the server accepted: the messages, and whether each came over TLS after signing in."""

    messages: list[EmailMessage] = field(default_factory=list)
    secure: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        self.secure.append(bool(session.ssl) and bool(session.authenticated))
        return "250 OK"


@dataclass(frozen=True)
class MailServer:
    host: str
    port: int
    ca_file: Path
    received: Received

    def env(self) -> dict[str, str]:
        """The settings that point phananh at this server."""
        return {
            "PHANANH_SMTP_HOST": self.host,
            "PHANANH_SMTP_PORT": str(self.port),
            "PHANANH_SMTP_USERNAME": USER,
            "PHANANH_SMTP_PASSWORD": PASSWORD,
            "PHANANH_SMTP_CA_FILE": str(self.ca_file),
            "PHANANH_MAIL_FROM": "Phản ánh MTTQ <phananh@mttq.example.vn>",
        }


def _authenticate(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login.decode() == USER and data.password.decode() == PASSWORD
    return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def mail_server(directory: Path) -> Iterator[MailServer]:
    """An SMTP server on a free loopback port that requires STARTTLS and a sign-in before it takes mail."""
    cert, key = self_signed(directory, 'smtp')
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    received = Received()
    port = _free_port()
    controller = Controller(
        received, hostname="127.0.0.1", port=port, tls_context=tls, require_starttls=True,
        authenticator=_authenticate, auth_required=True, auth_require_tls=True,
    )
    controller.start()
    try:
        yield MailServer("127.0.0.1", port, cert, received)
    finally:
        controller.stop()


@pytest.fixture()
def mail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailServer]:
    """A local SMTP server (STARTTLS, sign-in required), and phananh's settings pointing at it."""
    with mail_server(tmp_path) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield server
        finally:
            get_settings.cache_clear()
