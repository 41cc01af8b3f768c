"""Signup confirmations (hydrophone's ``signup_confirmation``), recorded for delivery.

``POST /confirm/send/signup/:userId`` and clinics creating custodial patients record a pending
confirmation for the account's first email address. Sending the email is the notification
component's work: it finds confirmations with no ``sent_time``, mints the secret key it puts in the
link, and sets ``sent_time``. Until it exists, a confirmation stays pending and undelivered, and the
API says so (``emailSent: false``).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from inlet.accounts.service import User, timestamp
from inlet.db.schema import confirmations

SIGNUP = "signup_confirmation"
PENDING = "pending"
CANCELED = "canceled"


@dataclass(slots=True)
class Confirmation:
    id: str
    type: str
    status: str
    user_id: str
    email: str
    creator_id: str | None
    clinic_id: str | None
    created_time: int
    modified_time: int | None
    sent_time: int | None

    def public(self) -> dict[str, Any]:
        """Hydrophone's confirmation fields, without the key (a secret only the email carries)."""
        body: dict[str, Any] = {
            "type": self.type,
            "status": self.status,
            "email": self.email,
            "userId": self.user_id,
            "created": timestamp(self.created_time),
            "emailSent": self.sent_time is not None,
        }
        if self.creator_id:
            body["creatorId"] = self.creator_id
        if self.clinic_id:
            body["clinicId"] = self.clinic_id
        if self.modified_time is not None:
            body["modified"] = timestamp(self.modified_time)
        return body


def _pending(conn: Connection, user_id: str) -> list[Confirmation]:
    rows = conn.execute(
        select(confirmations).where(
            confirmations.c.user_id == user_id,
            confirmations.c.type == SIGNUP,
            confirmations.c.status == PENDING,
        )
    )
    return [Confirmation(**dict(row._mapping)) for row in rows]


def request_signup(
    conn: Connection, now: int, user: User, *, creator_id: str | None, clinic_id: str | None = None
) -> Confirmation | None:
    """Record a pending signup confirmation for ``user``'s first email address.

    Idempotent: a pending confirmation for the same address is returned unchanged (clients retry
    POSTs). One for another address is canceled and replaced. A user without an email address has
    nothing to confirm: pending ones are canceled and None is returned."""
    email = user.emails[0] if user.emails else None
    existing = _pending(conn, user.id)
    for confirmation in existing:
        if email is not None and confirmation.email == email:
            return confirmation
    if existing:
        conn.execute(
            update(confirmations)
            .where(confirmations.c.id.in_([c.id for c in existing]))
            .values(status=CANCELED, modified_time=now)
        )
    if email is None:
        return None
    confirmation = Confirmation(
        id=secrets.token_hex(12),
        type=SIGNUP,
        status=PENDING,
        user_id=user.id,
        email=email,
        creator_id=creator_id,
        clinic_id=clinic_id,
        created_time=now,
        modified_time=None,
        sent_time=None,
    )
    conn.execute(confirmations.insert().values(**asdict(confirmation)))
    return confirmation


def pending_signups(conn: Connection, user_id: str) -> list[Confirmation]:
    return _pending(conn, user_id)
