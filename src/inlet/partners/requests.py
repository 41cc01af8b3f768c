"""Clinician-initiated connections: a clinic asks a patient, by email, to connect a partner account.

The email holds ``{public_url}/v1/oauth/<slug>/authorize?restricted_token=...``: a restricted token
for the patient, valid 30 days, that allows only ``GET /v1/oauth/<slug>/authorize``. That token alone
starts the ordinary connect flow (custodial patients may have no password); connecting spends it.

Each request is a ``connection_requests`` row (one per clinic, patient and partner):

- **Request / resend**: allowed while the patient's data source for the partner is missing,
  ``disconnected`` or ``error`` (which covers an earlier link that expired or failed); refused with
  :class:`AlreadyConnected` when it is ``connected``. A resend sends a new link and re-arms the reminder.
- **Reminder**: :func:`send_connection_reminders` emails once, 7 days after the latest request, with a
  fresh link, unless the patient connected meanwhile or left the clinic. The sync worker calls it; by
  hand (or from cron) it is ``inlet reminders``.

Emails say in plain words who asks and for what; they never carry health data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from inlet.accounts import clinics as c
from inlet.db.schema import connection_requests
from inlet.model.timeutil import US, from_micros, to_micros
from inlet.partners.contract import Partner
from inlet.partners.states import CONNECTED

if TYPE_CHECKING:
    from inlet.services import Services

LINK_VALID_DAYS = 30
REMINDER_AFTER_DAYS = 7
_DAY = 86_400 * US
log = logging.getLogger("inlet.partners")


class AlreadyConnected(Exception):
    """The patient's data source for the partner is connected: nothing to ask for."""


class NoEmailAddress(Exception):
    """Neither the clinic's patient record nor the account has an email address."""


@dataclass(frozen=True, slots=True)
class ConnectionRequest:
    clinic_id: str
    user_id: str
    provider_name: str
    created_time: int
    last_sent_time: int
    expires_time: int
    reminder_sent_time: int | None

    @classmethod
    def from_row(cls, row: Any) -> ConnectionRequest:
        m = row._mapping
        return cls(
            m["clinic_id"],
            m["user_id"],
            m["provider_name"],
            m["created_time"],
            m["last_sent_time"],
            m["expires_time"],
            m["reminder_sent_time"],
        )


def find_request(conn: Connection, clinic_id: str, user_id: str, slug: str) -> ConnectionRequest | None:
    row = conn.execute(
        select(connection_requests).where(
            connection_requests.c.clinic_id == clinic_id,
            connection_requests.c.user_id == user_id,
            connection_requests.c.provider_name == slug,
        )
    ).first()
    return None if row is None else ConnectionRequest.from_row(row)


def patient_email(conn: Connection, services: Services, patient: c.Patient) -> str | None:
    """The address on the clinic's patient record, else the account's first email or username."""
    email = patient.doc.get("email")
    if isinstance(email, str) and "@" in email:
        return email
    return services.accounts.email_address(conn, patient.user_id)


def is_connected(conn: Connection, services: Services, user_id: str, slug: str) -> bool:
    source = services.partners.find_source(conn, user_id, slug)
    return source is not None and source.state == CONNECTED


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _email_text(
    clinic: c.Clinic, partner: Partner, link: str, expires: int, *, reminder: bool
) -> tuple[str, str]:
    clinic_name = _one_line(clinic.name)
    name = partner.display_name
    until = from_micros(expires).strftime("%d %B %Y")
    subject = f"{clinic_name} asks you to connect your {name} account"
    if reminder:
        subject = f"Reminder: {subject}"
    opening = (
        f"A few days ago {clinic_name} asked you to connect your {name} account to Inlet. It is not "
        "connected yet, so here is a new link."
        if reminder
        else f"{clinic_name} asks you to connect your {name} account to Inlet, the service the clinic "
        f"uses to see the data you share with it."
    )
    body = (
        f"Hello,\n\n{opening}\n\n"
        f"To connect, open the link below. It takes you to {name}, where you sign in with your {name} "
        f"account and agree to share. You do not need an Inlet password.\n\n"
        f"{link}\n\n"
        f"The link works once, until {until}. You can disconnect {name} at any time.\n\n"
        f"If you did not expect this email, you can ignore it: nothing is connected unless you agree "
        f"at {name}.\n"
    )
    return subject, body


def _send_link(
    conn: Connection,
    services: Services,
    clinic: c.Clinic,
    partner: Partner,
    user_id: str,
    to: str,
    now: int,
    *,
    reminder: bool,
) -> int:
    """Create the patient's restricted token and email the link; the link's expiry time."""
    expires = now + LINK_VALID_DAYS * _DAY
    # The link starts this one flow and can do nothing else: GET of the authorize leg only (a 30-day
    # credential in a mailbox must not be able to disconnect the account, or reach anything else).
    token, restricted = services.accounts.create_restricted_token(
        conn, user_id, [f"/v1/oauth/{partner.slug}/authorize"], expires_time=expires, methods=["GET"]
    )
    link = (
        f"{services.settings.public_base}/v1/oauth/{partner.slug}/authorize?restricted_token={quote(token)}"
    )
    subject, body = _email_text(clinic, partner, link, restricted.expires_time, reminder=reminder)
    services.notifier.record(conn, to, subject, body, link)
    return restricted.expires_time


def request_connection(
    conn: Connection,
    services: Services,
    clinic: c.Clinic,
    patient: c.Patient,
    partner: Partner,
    requested_by: str | None,
) -> ConnectionRequest:
    """Email the patient a connect link and record the request (first request or resend).

    Raises :class:`AlreadyConnected` or :class:`NoEmailAddress`. The email is recorded in ``conn``'s
    transaction (the outbox): delivered after it commits (:meth:`inlet.notify.Notifier.transaction`)."""
    slug = partner.slug
    if is_connected(conn, services, patient.user_id, slug):
        raise AlreadyConnected(slug)
    to = patient_email(conn, services, patient)
    if to is None:
        raise NoEmailAddress(patient.user_id)
    now = services.accounts.now()
    expires = _send_link(conn, services, clinic, partner, patient.user_id, to, now, reminder=False)
    values = {
        "last_sent_time": now,
        "expires_time": expires,
        "reminder_sent_time": None,
        "created_user_id": requested_by,
    }
    # An upsert, so two first requests at the same moment both succeed (the second one wins).
    dialect_insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(connection_requests).values(
        clinic_id=clinic.id, user_id=patient.user_id, provider_name=slug, created_time=now, **values
    )
    conn.execute(
        statement.on_conflict_do_update(index_elements=["clinic_id", "user_id", "provider_name"], set_=values)
    )
    log.info("partner %s: clinic %s asked user %s to connect", slug, clinic.id, patient.user_id)
    found = find_request(conn, clinic.id, patient.user_id, slug)
    assert found is not None
    return found


def send_connection_reminders(conn: Connection, services: Services, now: datetime) -> int:
    """Email the 7-day reminder (with a fresh link) for every request made at least 7 days before
    ``now`` that has had none, unless the patient is connected. Requests older than the link's 30 days
    are not reminded of. Requests of patients who left
    the clinic, or for a partner no longer offered, are dropped. Returns how many reminders went out."""
    at = to_micros(now)
    due = conn.execute(
        select(connection_requests)
        .where(
            connection_requests.c.reminder_sent_time.is_(None),
            connection_requests.c.last_sent_time <= at - REMINDER_AFTER_DAYS * _DAY,
            connection_requests.c.last_sent_time > at - LINK_VALID_DAYS * _DAY,
        )
        .order_by(connection_requests.c.id)
        # two workers' housekeeping at once: each request is reminded by one of them (one email)
        .with_for_update(skip_locked=True)
    ).all()
    sent = 0
    for row in due:
        request = ConnectionRequest.from_row(row)
        if is_connected(conn, services, request.user_id, request.provider_name):
            continue  # connected now: no reminder (looked at again while the request's link is valid)
        clinic = c.get_clinic(conn, request.clinic_id)
        patient = c.get_patient(conn, request.clinic_id, request.user_id)
        partner = services.partners.registry.available(request.provider_name)
        to = patient_email(conn, services, patient) if patient is not None else None
        if clinic is None or patient is None or partner is None or to is None:
            conn.execute(delete(connection_requests).where(connection_requests.c.id == row.id))
            continue
        expires = _send_link(conn, services, clinic, partner, request.user_id, to, at, reminder=True)
        conn.execute(
            update(connection_requests)
            .where(connection_requests.c.id == row.id)
            .values(reminder_sent_time=at, expires_time=expires)
        )
        sent += 1
    if sent:
        log.info("sent %d connection reminder(s)", sent)
    return sent
