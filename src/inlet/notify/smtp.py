"""SMTP delivery with the standard library: ``INLET_SMTP_URL`` parsing and one message per connection.

``smtp://[user:pass@]host:port[?starttls=1]``: user and password are percent-decoded; with
``starttls=1`` the connection is upgraded before anything else is said, and a server that does not
offer STARTTLS is an error (never a silent fall back to plain text); with credentials, ``AUTH`` follows.
Credentials over plain ``smtp://`` without STARTTLS are allowed for a relay on the same host only by
the operator's choice: prefer ``?starttls=1``.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, quote, unquote, urlsplit

DEFAULT_SMTP_PORT = 25
URL_SHAPE = "smtp://[user:pass@]host:port[?starttls=1]"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SmtpUrlError(ValueError):
    """A malformed ``INLET_SMTP_URL``. The message never repeats the URL (it may hold a password)."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = DEFAULT_SMTP_PORT
    username: str | None = None
    password: str = field(default="", repr=False)
    starttls: bool = False

    @classmethod
    def parse(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() != "smtp":
            raise SmtpUrlError(f"INLET_SMTP_URL must look like {URL_SHAPE}")
        try:
            port = parts.port or DEFAULT_SMTP_PORT
        except ValueError:
            raise SmtpUrlError(f"INLET_SMTP_URL has an invalid port; expected {URL_SHAPE}") from None
        if not parts.hostname:
            raise SmtpUrlError(f"INLET_SMTP_URL names no host; expected {URL_SHAPE}")
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(query) - {"starttls"})
        if unknown:
            raise SmtpUrlError(
                f"INLET_SMTP_URL: unknown option(s) {', '.join(unknown)}; expected {URL_SHAPE}"
            )
        flag = query.get("starttls", ["0"])[-1].lower()
        if flag not in _TRUE | _FALSE:
            raise SmtpUrlError("INLET_SMTP_URL: starttls must be 1 or 0")
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else ""
        return cls(parts.hostname, port, username, password, flag in _TRUE)

    def deliver(
        self, message: EmailMessage, *, timeout: float, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """Send one message over a fresh connection; raises ``smtplib.SMTPException`` or ``OSError``."""
        with smtplib.SMTP(self.host, self.port, timeout=timeout) as client:
            if self.starttls:
                client.starttls(context=ssl_context or ssl.create_default_context())
            if self.username is not None:
                client.login(self.username, self.password)
            client.send_message(message)

    def redact(self, text: str) -> str:
        """``text`` with the password (raw and as it appears in a URL) replaced, for error records."""
        if self.password:
            for secret in {self.password, quote(self.password, safe="")}:
                text = text.replace(secret, "***")
        return text
