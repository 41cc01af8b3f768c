"""Issue 12, defect 8: the transactional outbox. The email that a source went to ``error`` is written
in the transaction that decides it and delivered after that transaction commits (never inside it),
one per person per event."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine, select, update

from inlet.db.schema import data_sources, outbox
from inlet.model.timeutil import US, now_utc, to_micros
from inlet.notify.smtp import SmtpConfig
from tests.sync.harness import DEXCOM_USER, SyncEnv


@dataclass(frozen=True)
class Observing(SmtpConfig):
    """An SMTP server stand-in that looks at the database, over its own connection, as each message
    arrives: it sees only what is committed."""

    engine: Engine | None = None
    seen: list[tuple[str, str, bool]] = field(default_factory=list)

    def deliver(
        self, message: EmailMessage, *, timeout: float, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        assert self.engine is not None
        with self.engine.connect() as conn:
            state = conn.execute(select(data_sources.c.state)).scalar_one()
            queued = conn.execute(select(outbox.c.id).where(outbox.c.to == message["To"])).first()
        self.seen.append((str(message["To"]), state, queued is not None))


def test_the_error_email_is_delivered_after_the_commit_once(sync_env: SyncEnv) -> None:
    account = sync_env.connect()
    assert sync_env.run_once().succeeded == 1
    smtp = Observing("127.0.0.1", engine=sync_env.services.engine)
    sync_env.services.notifier.smtp = smtp
    simulator = sync_env.dexcom.simulator
    store = simulator.oauth.store
    store.revoke([g.id for g in store.select_grants(username=DEXCOM_USER)], simulator.now(), "test")
    store.expire_access_tokens(simulator.now())
    for _ in range(2):  # a second run finds the source in error: no second email
        sync_env.make_due()
        sync_env.run_once()
    assert sync_env.source(account.user_id).state == "error"
    # the SMTP server saw the decision committed: the source in error, the outbox row written
    assert len(smtp.seen) == 1, smtp.seen
    to, state, queued = smtp.seen[0]
    assert to.startswith("person")
    assert state == "error"
    assert queued
    with sync_env.services.engine.connect() as conn:
        rows: list[Any] = list(conn.execute(select(outbox)))
    assert len(rows) == 1
    assert rows[0].sent_time is not None
    assert rows[0].attempts == 1
    assert rows[0].last_error is None


@dataclass(frozen=True)
class Committed(SmtpConfig):
    """An SMTP stand-in that records, as each message arrives, whether its outbox row and the row of
    the decision (``decided``: a query over its own connection) are committed yet."""

    engine: Engine | None = None
    decided: Any = None
    seen: list[tuple[str, bool, bool]] = field(default_factory=list)

    def deliver(
        self, message: EmailMessage, *, timeout: float, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        assert self.engine is not None
        with self.engine.connect() as conn:
            queued = conn.execute(select(outbox.c.id).where(outbox.c.to == message["To"])).first()
            decided = self.decided is None or conn.execute(self.decided).first() is not None
        self.seen.append((str(message["To"]), queued is not None, decided))


def _clinic_request(sync_env: SyncEnv) -> tuple[Any, str, str]:
    """A clinician, a clinic and a custodial patient with an email address: (clinician, clinic id,
    patient id)."""
    inlet = sync_env.inlet
    clinician = inlet.signup()
    clinic = inlet.http.post(f"{inlet.url}/v1/clinics", json={"name": "Lakeside"}, headers=clinician.headers)
    assert clinic.status_code == 200, clinic.text
    patient = inlet.http.post(
        f"{inlet.url}/v1/clinics/{clinic.json()['id']}/patients",
        json={"fullName": "Sam Custodial", "birthDate": "2013-04-05", "email": "sam@example.org"},
        headers=clinician.headers,
    )
    assert patient.status_code == 200, patient.text
    return clinician, str(clinic.json()["id"]), str(patient.json()["id"])


def test_a_clinic_connect_request_and_its_reminder_are_emailed_after_the_commit(sync_env: SyncEnv) -> None:
    from inlet.db.schema import connection_requests
    from inlet.sync.service import housekeeping_once

    clinician, clinic_id, patient_id = _clinic_request(sync_env)
    requests = connection_requests.c
    smtp = Committed(
        "127.0.0.1",
        engine=sync_env.services.engine,
        decided=select(requests.id).where(requests.user_id == patient_id),
    )
    sync_env.services.notifier.smtp = smtp
    inlet = sync_env.inlet
    url = f"{inlet.url}/v1/clinics/{clinic_id}/patients/{patient_id}/connect/dexcom"
    assert inlet.http.post(url, headers=clinician.headers).status_code == 204
    # the SMTP server saw the request and its outbox row committed (not sent inside the transaction)
    assert smtp.seen == [("sam@example.org", True, True)]

    # the 7-day reminder (housekeeping): also delivered after its decision committed, once
    with sync_env.services.engine.begin() as conn:
        conn.execute(
            update(connection_requests).values(last_sent_time=to_micros(now_utc()) - 8 * 86_400 * US)
        )
    reminded = replace(smtp, decided=select(requests.id).where(requests.reminder_sent_time.is_not(None)))
    reminded.seen.clear()
    sync_env.services.notifier.smtp = reminded
    housekeeping_once(sync_env.services)
    housekeeping_once(sync_env.services)  # nothing new to remind of: no second email
    assert reminded.seen == [("sam@example.org", True, True)]
    with sync_env.services.engine.connect() as conn:
        rows = list(conn.execute(select(outbox.c.sent_time, outbox.c.attempts)))
    assert len(rows) == 2
    assert all(row.sent_time is not None and row.attempts == 1 for row in rows)


def test_a_password_reset_email_is_delivered_after_the_commit(sync_env: SyncEnv) -> None:
    account = sync_env.inlet.signup()
    with sync_env.services.engine.connect() as conn:
        from inlet.db.schema import users

        address = conn.execute(select(users.c.username).where(users.c.id == account.user_id)).scalar_one()
    smtp = Committed("127.0.0.1", engine=sync_env.services.engine)
    sync_env.services.notifier.smtp = smtp
    inlet = sync_env.inlet
    answer = inlet.http.post(f"{inlet.url}/confirm/send/forgot/{address}")
    assert answer.status_code == 200, answer.text
    assert smtp.seen == [(address, True, True)]
