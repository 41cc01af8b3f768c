"""FHIR push: configured FHIR servers receive each subscribed person's CGM bundle on a schedule.

- **Endpoints** come from ``INLET_FHIR_ENDPOINTS``: comma-separated ``name=base URL`` (a bare URL is
  named by its host). Each endpoint's bearer token is stored encrypted with the token vault
  (``partners.vault``, Fernet; ``inlet fhir token NAME``), never in the environment or a log.
- **Tasks**: one ``fhir_push_tasks`` row per endpoint and person (``inlet fhir subscribe``). A pusher
  claims due rows with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
  SQLite), writing its owner, an expiry and ``lease_generation + 1``; completion is fenced by owner and
  generation, so a pusher whose lease expired (paused, killed) can not reschedule a task another
  pusher has since claimed. A push is one HTTP request (30 s timeout), well inside the lease, so no
  heartbeat is needed.
- **A push** sends the Data Submission Bundle (``inlet.fhir.bundle``, mg/dL) of the window from the
  end of the last accepted window (at first: 14 days back) to now, as
  ``POST [base]/$submit-cgm-bundle``. Sensor readings carry ``ifNoneExist``, so a window sent twice
  stores nothing twice at a conforming receiver.
- **Outcomes**: 2xx: the window is done, the next push in ``INLET_FHIR_PUSH_INTERVAL_MINUTES``. 429:
  wait what ``Retry-After`` says (seconds or an HTTP date; 60 s when absent), not counted as a
  failure. Anything else (5xx, other 4xx, network): jittered exponential backoff from 1 minute,
  doubling per failure, at most 6 hours; the status is kept in ``last_status``/``last_error`` (never a
  response body: it may echo health data).
"""

from __future__ import annotations

import random
import secrets
import time as time_module
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx2
import orjson
import structlog
from sqlalchemy import Engine, and_, insert, or_, select, update

from inlet.db.schema import fhir_endpoint_tokens, fhir_push_tasks
from inlet.fhir.bundle import cgm_bundle
from inlet.fhir.reads import cgm_docs
from inlet.model.glucose import MGDL
from inlet.model.timeutil import from_micros, to_micros
from inlet.partners.vault import TokenVault

log = structlog.get_logger("inlet.fhir.push")
T = fhir_push_tasks
HISTORY = timedelta(days=14)
BACKOFF_BASE_SECONDS = 60.0
BACKOFF_MAX_SECONDS = 6 * 3600.0
DEFAULT_RETRY_AFTER_SECONDS = 60.0
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    base: str


def parse_endpoints(text: str | None) -> dict[str, Endpoint]:
    """``name=https://host/fhir,https://other/fhir`` -> endpoints by name (a bare URL: its host)."""
    found: dict[str, Endpoint] = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, _, url = item.partition("=") if "=" in item.split("://")[0] else ("", "", item)
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"INLET_FHIR_ENDPOINTS: {item!r} is not name=http(s)://base")
        name = (name.strip() or parts.hostname or "fhir")[:64]
        found[name] = Endpoint(name, url.rstrip("/"))
    return found


def set_token(engine: Engine, vault: TokenVault, endpoint: str, token: str, now: datetime) -> None:
    """Store ``endpoint``'s bearer token, encrypted (replacing the one before)."""
    ciphertext = vault.encrypt_text(token)
    with engine.begin() as conn:
        updated = conn.execute(
            update(fhir_endpoint_tokens)
            .where(fhir_endpoint_tokens.c.endpoint == endpoint)
            .values(token_ciphertext=ciphertext, modified_time=to_micros(now))
        ).rowcount
        if not updated:
            conn.execute(
                insert(fhir_endpoint_tokens).values(
                    endpoint=endpoint, token_ciphertext=ciphertext, modified_time=to_micros(now)
                )
            )


def subscribe(engine: Engine, endpoint: str, user_id: str, now: datetime) -> str:
    """A push task for ``user_id`` to ``endpoint``, due now (the existing one when there is one)."""
    with engine.begin() as conn:
        found = conn.execute(
            select(T.c.id).where(T.c.endpoint == endpoint, T.c.user_id == user_id)
        ).scalar_one_or_none()
        if found is not None:
            return str(found)
        task_id = uuid.uuid4().hex
        conn.execute(
            insert(T).values(
                id=task_id,
                endpoint=endpoint,
                user_id=user_id,
                next_run_time=to_micros(now),
                lease_generation=0,
                failure_count=0,
                created_time=to_micros(now),
            )
        )
        return task_id


@dataclass(frozen=True, slots=True)
class Lease:
    task_id: str
    endpoint: str
    user_id: str
    generation: int
    pushed_until: int | None
    failure_count: int


@dataclass(slots=True)
class Outcome:
    task_id: str
    status: int | None  # HTTP status; None for a network failure or a missing endpoint
    next_run: datetime
    completed: bool  # False when the lease had been lost (the result was not recorded)


@dataclass
class FhirPusher:
    """Claims due push tasks and sends their bundles (``run_once``; ``run_forever`` for a process)."""

    engine: Engine
    vault: TokenVault
    endpoints: dict[str, Endpoint]
    interval: timedelta = timedelta(minutes=60)
    lease: timedelta = timedelta(minutes=5)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    transport: httpx2.BaseTransport | None = None
    owner: str = field(default_factory=lambda: f"fhir-{secrets.token_hex(6)}")
    rng: random.Random = field(default_factory=random.Random)

    def claim(self, limit: int = 50) -> list[Lease]:
        now = to_micros(self.clock())
        due = and_(
            T.c.next_run_time <= now,
            or_(T.c.lease_expires_time.is_(None), T.c.lease_expires_time < now),
        )
        leases = []
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(T)
                .where(due)
                .order_by(T.c.next_run_time)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                generation = row.lease_generation + 1
                conn.execute(
                    update(T)
                    .where(T.c.id == row.id)
                    .values(
                        lease_owner=self.owner,
                        lease_expires_time=now + int(self.lease.total_seconds() * 1_000_000),
                        lease_generation=generation,
                        last_run_time=now,
                    )
                )
                leases.append(
                    Lease(row.id, row.endpoint, row.user_id, generation, row.pushed_until, row.failure_count)
                )
        return leases

    def _token(self, endpoint: str) -> str | None:
        with self.engine.connect() as conn:
            ciphertext = conn.execute(
                select(fhir_endpoint_tokens.c.token_ciphertext).where(
                    fhir_endpoint_tokens.c.endpoint == endpoint
                )
            ).scalar_one_or_none()
        return self.vault.decrypt_text(ciphertext) if ciphertext else None

    def _backoff(self, failures: int) -> timedelta:
        seconds = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, failures - 1))
        return timedelta(seconds=seconds * self.rng.uniform(0.8, 1.2))

    def _retry_after(self, value: str | None, now: datetime) -> timedelta:
        if value:
            try:
                return timedelta(seconds=max(0.0, float(value)))
            except ValueError:
                try:
                    return max(timedelta(0), parsedate_to_datetime(value) - now)
                except (TypeError, ValueError):
                    pass
        return timedelta(seconds=DEFAULT_RETRY_AFTER_SECONDS)

    def push(self, lease: Lease) -> Outcome:
        """Send one task's bundle and record what happened (fenced by the lease)."""
        now = self.clock()
        endpoint = self.endpoints.get(lease.endpoint)
        if endpoint is None:  # no longer configured: look again much later
            return self._finish(
                lease, None, now + self._backoff(lease.failure_count + 1), "endpoint not configured"
            )
        start = from_micros(lease.pushed_until) if lease.pushed_until else now - HISTORY
        with self.engine.connect() as conn:
            docs = cgm_docs(conn, lease.user_id, start, now)
        bundle = cgm_bundle(lease.user_id, docs, start, now, units=MGDL, now=now)
        headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        token = self._token(lease.endpoint)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            with httpx2.Client(transport=self.transport, timeout=30.0) as http:
                response = http.post(
                    f"{endpoint.base}/$submit-cgm-bundle", content=orjson.dumps(bundle), headers=headers
                )
        except httpx2.HTTPError as error:
            log.warning("fhir push failed", endpoint=lease.endpoint, error_kind=type(error).__name__)
            return self._finish(
                lease, None, now + self._backoff(lease.failure_count + 1), type(error).__name__
            )
        status = response.status_code
        if 200 <= status < 300:
            log.info("fhir push done", endpoint=lease.endpoint, readings=len(docs))
            return self._finish(lease, status, now + self.interval, None, pushed_until=now)
        if status == 429:
            wait = self._retry_after(response.headers.get("Retry-After"), now)
            log.info("fhir push rate limited", endpoint=lease.endpoint, retry_after_s=wait.total_seconds())
            return self._finish(lease, status, now + wait, "rate limited (429)", count_failure=False)
        log.warning("fhir push refused", endpoint=lease.endpoint, status=status)
        return self._finish(lease, status, now + self._backoff(lease.failure_count + 1), f"HTTP {status}")

    def _finish(
        self,
        lease: Lease,
        status: int | None,
        next_run: datetime,
        error: str | None,
        *,
        pushed_until: datetime | None = None,
        count_failure: bool = True,
    ) -> Outcome:
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_expires_time": None,
            "next_run_time": to_micros(next_run),
            "last_status": status,
            "last_error": error,
        }
        if error is None:
            values["failure_count"] = 0
            values["last_success_time"] = to_micros(self.clock())
        elif count_failure:
            values["failure_count"] = lease.failure_count + 1
        if pushed_until is not None:
            values["pushed_until"] = to_micros(pushed_until)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(T)
                .where(
                    T.c.id == lease.task_id,
                    T.c.lease_owner == self.owner,
                    T.c.lease_generation == lease.generation,
                )
                .values(**values)
            ).rowcount
        return Outcome(lease.task_id, status, next_run, bool(done))

    def run_once(self) -> list[Outcome]:
        """Every task due now, once."""
        outcomes: list[Outcome] = []
        while leases := self.claim():
            outcomes.extend(self.push(lease) for lease in leases)
        return outcomes

    def run_forever(self, should_stop: Callable[[], bool], poll_seconds: float = 30.0) -> None:
        while not should_stop():
            try:
                self.run_once()
            except Exception as error:  # a database hiccup must not end the schedule
                log.warning("fhir push pass failed", error_kind=type(error).__name__)
            deadline = time_module.monotonic() + poll_seconds
            while not should_stop() and time_module.monotonic() < deadline:
                time_module.sleep(min(1.0, poll_seconds))
