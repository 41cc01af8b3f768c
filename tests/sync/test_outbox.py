"""Issue 12, defect 8: the transactional outbox. The email that a source went to ``error`` is written
in the transaction that decides it and delivered after that transaction commits (never inside it),
one per person per event."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine, select

from inlet.db.schema import data_sources, outbox
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
