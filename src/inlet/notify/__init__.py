"""Email: SMTP when ``INLET_SMTP_URL`` is set, otherwise the outbox table (``inlet outbox`` prints it).

See :mod:`inlet.notify.notifier` for delivery, queueing and retry."""

from inlet.notify.notifier import (
    DeliveryReport,
    Email,
    Notifier,
    ResealCounts,
    SealedError,
    TextCipher,
    queued,
    reseal,
)
from inlet.notify.smtp import SmtpConfig, SmtpUrlError

__all__ = [
    "DeliveryReport",
    "Email",
    "Notifier",
    "ResealCounts",
    "SealedError",
    "SmtpConfig",
    "SmtpUrlError",
    "TextCipher",
    "queued",
    "reseal",
]
