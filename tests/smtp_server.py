"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), with TLS and AUTH when asked.

Tests send through smtplib to it and read back what arrived, parsed with the email package, so
they check the bytes a mail relay would see rather than a mock's call list.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Handler:
    """Collects accepted messages; answers DATA with the queued `replies` first (e.g. "451 ...")."""

    replies: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    data_attempts: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_attempts += 1
        if self.replies:
            return self.replies.pop(0)
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK"


@dataclass
class Authenticator:
    """Accepts exactly one user/password pair and remembers every attempt."""

    user: str
    password: str
    attempts: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        self.attempts.append((login, password))
        # handled=False: aiosmtpd answers 535 itself (with True it would leave the client waiting)
        ok = (login, password) == (self.user, self.password)
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    """A port nothing listens on right now (aiosmtpd's Controller cannot bind port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def smtp_server(
    handler: Handler | None = None,
    *,
    implicit_tls: ssl.SSLContext | None = None,
    **smtp_parameters: Any,
) -> Iterator[tuple[int, Handler]]:
    """Serve on 127.0.0.1:<free port>; yields (port, handler). smtp_parameters go to aiosmtpd.SMTP
    (tls_context for STARTTLS, authenticator, auth_require_tls, ...)."""
    handler = handler or Handler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=implicit_tls,
        server_hostname="smtp.test",
        **smtp_parameters,
    )
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for IP 127.0.0.1 (openssl CLI; `cryptography` is not installed)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def client_context(cert: Path) -> ssl.SSLContext:
    """Trusts only the test certificate, with hostname checking on: the real client's settings."""
    return ssl.create_default_context(cafile=str(cert))
