"""The notifier: send an email now over SMTP, or queue it in the outbox table; retry what is queued.

Every email gets an ``outbox`` row, written in the caller's transaction:

- **No SMTP** (``INLET_SMTP_URL`` unset): the row stays queued (``sent_time`` NULL, ``attempts`` 0).
  ``inlet outbox`` prints it; that is how a self-hosted instance without mail (and the demo) hands
  links to people.
- **SMTP, the transactional outbox** (:meth:`Notifier.record` then :meth:`Notifier.deliver`): the row
  is written in the transaction that decides the email; after it commits, ``deliver`` claims the row
  in a short transaction, sends with no transaction open (an SMTP timeout never holds a database
  lock) and records the outcome. Accepted: ``sent_time``. Refused, unreachable or timed out: the row
  stays queued with ``attempts`` and ``last_error`` and a warning is logged. A rolled-back decision
  sends nothing. :meth:`Notifier.transaction` does both: a write transaction whose recorded emails
  are delivered once it commits (the API's write connection is one). There is no way to send inside
  a transaction.
- **Retry**: :meth:`Notifier.deliver_pending` sends queued rows again, oldest first, each in its own
  transaction, and stops trying a row after ``max_attempts`` attempts (it stays visible, with its
  error, in ``inlet outbox``). Rows queued while no SMTP server was configured are delivered too, once
  one is. Run it periodically (the worker) or by hand: ``inlet outbox --deliver``. On PostgreSQL rows
  are claimed with ``FOR UPDATE SKIP LOCKED``, so concurrent deliverers never send a row twice; on
  SQLite the write lock serializes them.

Logs name the recipient's domain and the subject only: never the address, the body (it may hold a
sign-in link) or an SMTP credential.

**Sealed rows.** A body or link may carry a credential (a clinician's connect link is a 30-day
restricted token), so when the notifier has a ``cipher`` (the token vault, handed over by the
composition root: notify never imports partners) it stores both encrypted (``sealed``) and decrypts
them only to send them and for ``inlet outbox``. :func:`reseal` re-encrypts them under the first key
(``inlet keys rotate``) and seals older plain rows that carry a link.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Row, insert, select, update

from inlet.db.engine import read_only
from inlet.db.schema import outbox
from inlet.model.timeutil import format_utc, from_micros, now_utc, to_micros
from inlet.notify.smtp import SmtpConfig
from inlet.settings import Settings

log = logging.getLogger("inlet.notify")

Clock = Callable[[], datetime]
DEFAULT_MAIL_FROM = "inlet@localhost"
SMTP_TIMEOUT_SECONDS = 10.0
MAX_ATTEMPTS = 10
MAX_ERROR_CHARS = 1000
IN_FLIGHT = "in flight until "  # last_error of a row a deliverer claimed (until: microseconds)


def _in_flight(last_error: str | None, now: int) -> bool:
    """Whether another deliverer is sending the row now (its claim has not expired)."""
    if not last_error or not last_error.startswith(IN_FLIGHT):
        return False
    try:
        return int(last_error[len(IN_FLIGHT) :]) > now
    except ValueError:
        return False


class TextCipher(Protocol):
    """What sealing needs of the token vault (``inlet.partners.vault.TokenVault`` is one): encrypt,
    decrypt (raising on a value no key opens) and re-encrypt under the first key."""

    def encrypt_text(self, plaintext: str) -> str: ...

    def decrypt_text(self, ciphertext: str) -> str: ...

    def rotate(self, ciphertext: str) -> str: ...


class SealedError(Exception):
    """A sealed outbox row that cannot be opened: no cipher was given, or no key decrypts it."""


def _open(value: str | None, cipher: TextCipher | None) -> str | None:
    if value is None:
        return None
    if cipher is None:
        raise SealedError("this email is encrypted; the token keys are needed to read it")
    try:
        return cipher.decrypt_text(value)
    except Exception as error:  # the vault's own error class stays in partners
        raise SealedError("no configured token key decrypts this email") from error


@dataclass(frozen=True)
class Email:
    """One outbox row."""

    id: int
    to: str
    subject: str
    body: str
    link: str | None
    created_time: int
    sent_time: int | None = None
    attempts: int = 0
    last_error: str | None = None

    @property
    def sent(self) -> bool:
        return self.sent_time is not None

    @classmethod
    def from_row(cls, row: Row[Any], cipher: TextCipher | None = None) -> Email:
        """The row as an email, its body and link decrypted when sealed (``SealedError`` when they
        cannot be)."""
        m = row._mapping
        body, link = m["body"], m["link"]
        if m["sealed"]:
            body, link = _open(body, cipher) or "", _open(link, cipher)
        return cls(
            id=m["id"],
            to=m["to"],
            subject=m["subject"],
            body=body,
            link=link,
            created_time=m["created_time"],
            sent_time=m["sent_time"],
            attempts=m["attempts"],
            last_error=m["last_error"],
        )

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        """The contract's ``inlet outbox`` line; ``full`` adds the delivery status."""
        doc: dict[str, Any] = {
            "to": self.to,
            "subject": self.subject,
            "body": self.body,
            "link": self.link,
            "createdTime": format_utc(from_micros(self.created_time)),
        }
        if full:
            doc["sentTime"] = format_utc(from_micros(self.sent_time)) if self.sent_time is not None else None
            doc["attempts"] = self.attempts
            doc["lastError"] = self.last_error
        return doc


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0

    def summary(self) -> str:
        return f"delivered {self.sent} queued email(s); {self.failed} failed again and stay queued"


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "?"


def _header(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"an email's {name} may not contain line breaks")
    return value


_PENDING = "inlet.outbox.pending"  # conn.info key: the ids recorded in a Notifier.transaction


@dataclass
class Notifier:
    """Email for the rest of Inlet (``services.notifier``): clinician requests, reminders, notices."""

    smtp: SmtpConfig | None = None
    mail_from: str = DEFAULT_MAIL_FROM
    clock: Clock = now_utc
    timeout: float = SMTP_TIMEOUT_SECONDS
    max_attempts: int = MAX_ATTEMPTS
    ssl_context: ssl.SSLContext | None = None  # None: the system's trust store
    cipher: TextCipher | None = None  # seals bodies and links at rest; None: stored plain (tests)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Notifier:
        """``INLET_SMTP_URL`` and ``INLET_MAIL_FROM``; a malformed SMTP URL raises ``SmtpUrlError``."""
        smtp = SmtpConfig.parse(settings.smtp_url) if settings.smtp_url else None
        return cls(smtp=smtp, mail_from=settings.mail_from, **overrides)

    def now(self) -> int:
        return to_micros(self.clock())

    # ---- sending -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, engine: Engine) -> Iterator[Connection]:
        """A write transaction (``engine.begin()``) whose recorded emails (:meth:`record`) are
        delivered after it commits, with no transaction open; a rollback sends nothing. What cannot
        be delivered then stays queued for :meth:`deliver_pending`."""
        pending: list[int] = []
        with engine.begin() as conn:
            conn.info[_PENDING] = pending
            try:
                yield conn
            finally:
                conn.info.pop(_PENDING, None)
        if pending:
            try:
                self.deliver(engine, pending)
            except Exception as failure:  # committed: the emails wait in the outbox for a retry
                log.warning("delivery after the commit failed (%s); queued", type(failure).__name__)

    def record(self, conn: Connection, to: str, subject: str, body: str, link: str | None = None) -> Email:
        """Write the email into the outbox in ``conn``'s transaction (the one that decided it), and
        nothing else: :meth:`deliver` sends it after that transaction commits (by itself when the
        transaction is a :meth:`transaction`)."""
        _header("recipient", to)
        _header("subject", subject)
        if "@" not in to:
            raise ValueError("an email's recipient must be an address")
        created = self.now()
        cipher = self.cipher
        stored_body, stored_link = body, link
        if cipher is not None:
            stored_body = cipher.encrypt_text(body)
            stored_link = None if link is None else cipher.encrypt_text(link)
        result = conn.execute(
            insert(outbox).values(
                to=to,
                subject=subject,
                body=stored_body,
                link=stored_link,
                sealed=cipher is not None,
                created_time=created,
                attempts=0,
            )
        )
        assert result.inserted_primary_key is not None
        email = Email(int(result.inserted_primary_key[0]), to, subject, body, link, created)
        pending = conn.info.get(_PENDING)
        if pending is not None:  # inside transaction(): delivered once it commits
            pending.append(email.id)
        if self.smtp is None:
            log.info("email queued in the outbox (no SMTP configured) to @%s: %s", _domain(to), subject)
        return email

    def deliver(self, engine: Engine, ids: list[int]) -> DeliveryReport:
        """Send the committed outbox rows ``ids`` now, never inside a transaction: each row is claimed
        in a short transaction (an attempt counted, marked in flight so no other deliverer sends it),
        sent with no transaction open, and its outcome written in another. Nothing without SMTP (the
        rows stay queued for ``inlet outbox``)."""
        sent = failed = 0
        if self.smtp is None:
            return DeliveryReport()
        for email_id in ids:
            outcome = self._deliver_one(engine, self.smtp, email_id)
            if outcome is True:
                sent += 1
            elif outcome is False:
                failed += 1
        return DeliveryReport(sent=sent, failed=failed)

    def _deliver_one(self, engine: Engine, smtp: SmtpConfig, email_id: int) -> bool | None:
        """``True`` sent, ``False`` failed (queued for retry), ``None`` not claimable (sent, given up,
        or in flight at another deliverer)."""
        now = self.now()
        with engine.begin() as conn:
            row = conn.execute(
                select(outbox)
                .where(
                    outbox.c.id == email_id,
                    outbox.c.sent_time.is_(None),
                    outbox.c.attempts < self.max_attempts,
                )
                .with_for_update(skip_locked=True)
            ).first()
            if row is None or _in_flight(row.last_error, now):
                return None
            try:
                email = Email.from_row(row, self.cipher)
            except SealedError as error:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == email_id)
                    .values(attempts=row.attempts + 1, last_error=str(error))
                )
                log.warning("queued email %d cannot be decrypted with the token keys; not sent", email_id)
                return False
            until = now + int(self.timeout * 3 * 1_000_000)
            conn.execute(
                update(outbox)
                .where(outbox.c.id == email_id)
                .values(attempts=email.attempts + 1, last_error=f"{IN_FLIGHT}{until}")
            )
        attempts = email.attempts + 1
        try:
            smtp.deliver(self.message(email), timeout=self.timeout, ssl_context=self.ssl_context)
        except Exception as error:  # any failure to deliver keeps the email queued
            reason = smtp.redact(f"{type(error).__name__}: {error}")[:MAX_ERROR_CHARS]
            with engine.begin() as conn:
                conn.execute(update(outbox).where(outbox.c.id == email_id).values(last_error=reason))
            log.warning(
                "email to @%s not delivered (%s, attempt %d); queued for retry: %s",
                _domain(email.to),
                type(error).__name__,
                attempts,
                email.subject,
            )
            return False
        with engine.begin() as conn:
            conn.execute(
                update(outbox).where(outbox.c.id == email_id).values(sent_time=self.now(), last_error=None)
            )
        log.info("email sent to @%s: %s", _domain(email.to), email.subject)
        return True

    def message(self, email: Email) -> EmailMessage:
        """The MIME message for an outbox row; the Message-ID is stable across retries."""
        domain = _domain(self.mail_from) if "@" in self.mail_from else "localhost"
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = format_datetime(from_micros(email.created_time), usegmt=True)
        message["Message-ID"] = f"<outbox.{email.id}.{email.created_time}@{domain}>"
        text = email.body
        if email.link and email.link not in text:
            text = f"{text.rstrip()}\n\n{email.link}\n"
        message.set_content(text)
        return message

    # ---- retrying ------------------------------------------------------------------------------

    def deliver_pending(self, engine: Engine, *, limit: int = 100) -> DeliveryReport:
        """Retry up to ``limit`` queued emails, oldest first (:meth:`deliver`: SMTP outside any
        transaction).

        Does nothing without SMTP. Skips rows that reached ``max_attempts`` and rows another deliverer
        holds (PostgreSQL ``SKIP LOCKED``)."""
        if self.smtp is None:
            return DeliveryReport()
        retryable = (outbox.c.sent_time.is_(None), outbox.c.attempts < self.max_attempts)
        with read_only(engine) as conn:
            ids = list(
                conn.execute(
                    select(outbox.c.id).where(*retryable).order_by(outbox.c.id).limit(limit)
                ).scalars()
            )
        return self.deliver(engine, ids)


def queued(
    conn: Connection, *, include_sent: bool = False, cipher: TextCipher | None = None
) -> Iterator[Email]:
    """Outbox rows oldest first: those not sent yet, or every row with ``include_sent``; sealed rows
    are opened with ``cipher`` (``SealedError`` without it, or when no key opens them)."""
    query = select(outbox).order_by(outbox.c.id)
    if not include_sent:
        query = query.where(outbox.c.sent_time.is_(None))
    for row in conn.execute(query):
        yield Email.from_row(row, cipher)


@dataclass(frozen=True)
class ResealCounts:
    resealed: int = 0  # sealed rows re-encrypted under the first key
    sealed: int = 0  # plain rows with a link (written before sealing existed) now sealed
    failed: int = 0  # sealed rows no key decrypts


def reseal(conn: Connection, cipher: TextCipher) -> ResealCounts:
    """For ``inlet keys rotate``: every sealed row re-encrypted under the first key, and every plain row
    that carries a link (a credential, from before sealing) sealed. In ``conn``'s transaction."""
    resealed = sealed = failed = 0
    rows = conn.execute(select(outbox.c.id, outbox.c.body, outbox.c.link, outbox.c.sealed)).all()
    for row in rows:
        values: dict[str, Any]
        if row.sealed:
            try:
                values = {
                    "body": cipher.rotate(row.body),
                    "link": None if row.link is None else cipher.rotate(row.link),
                }
            except Exception:  # the vault's error: no configured key opens it
                failed += 1
                continue
            resealed += 1
        elif row.link is not None:
            values = {
                "body": cipher.encrypt_text(row.body),
                "link": cipher.encrypt_text(row.link),
                "sealed": True,
            }
            sealed += 1
        else:
            continue
        conn.execute(update(outbox).where(outbox.c.id == row.id).values(**values))
    return ResealCounts(resealed, sealed, failed)
