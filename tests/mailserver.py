"""A local SMTP server for the tests (aiosmtpd): STARTTLS with a certificate made for the test, sign-in required.

It listens on a free loopback port and keeps every message it accepts, parsed, for the test to read.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "phananh", "mat-khau-thu-12345"


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


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
    cert, key = _certificate(directory)
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
