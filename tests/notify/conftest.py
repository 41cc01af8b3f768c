"""A real SMTP server (aiosmtpd) on loopback, port 0, optionally with STARTTLS and AUTH, recording
every message it accepts; and a self-signed certificate for it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.live import LoopbackSmtpController

SMTP_USER = "mailer"
SMTP_PASSWORD = "p@ss:w/rd%S3cret"  # characters that must be percent-encoded in the URL


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None
    tls: bool


@dataclass
class Recorder:
    """The aiosmtpd handler: accepts everything, keeps it."""

    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        auth: Any = session.auth_data
        login = auth.login.decode() if session.authenticated else None
        self.messages.append(
            Received(
                str(envelope.mail_from), list(envelope.rcpt_tos), message, login, session.ssl is not None
            )
        )
        return "250 OK"


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@dataclass
class SmtpServer:
    port: int
    recorder: Recorder

    @property
    def messages(self) -> list[Received]:
        return self.recorder.messages

    def url(self, *, credentials: str = "", starttls: bool = False) -> str:
        return f"smtp://{credentials}127.0.0.1:{self.port}" + ("?starttls=1" if starttls else "")


StartSmtp = Callable[..., SmtpServer]


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 (the client trusts exactly it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "inlet-test-smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Certificate(cert_path, key_path)


@pytest.fixture
def start_smtp(certificate: Certificate) -> Iterator[StartSmtp]:
    """Start an SMTP server on 127.0.0.1, port 0: ``start_smtp()`` plain, no AUTH;
    ``start_smtp(tls=True, auth=True)`` requires STARTTLS, then AUTH (PLAIN/LOGIN) as SMTP_USER."""
    with _servers() as start:

        def starter(*, tls: bool = False, auth: bool = False) -> SmtpServer:
            kwargs: dict[str, Any] = {}
            if tls:
                kwargs.update(tls_context=certificate.server_context(), require_starttls=True)
            if auth:
                # aiosmtpd warns when AUTH is required without TLS, so plain servers offer it only
                kwargs.update(authenticator=_authenticator, auth_required=tls, auth_require_tls=tls)
            return start(**kwargs)

        yield starter


@contextmanager
def _servers() -> Iterator[Callable[..., SmtpServer]]:
    controllers: list[Controller] = []

    def start(**kwargs: Any) -> SmtpServer:
        recorder = Recorder()
        controller = LoopbackSmtpController(recorder, hostname="127.0.0.1", port=0, **kwargs)
        controller.start()
        controllers.append(controller)
        return SmtpServer(controller.port, recorder)

    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
