"""The partner sync runner: one run of one person's sync task, from tokens to stored data.

A run (``SyncRunner.__call__``, given to :class:`inlet.sync.worker.Worker`):

1. loads the data source and its provider session; a source that is not ``connected`` (or has no
   session) is *parked*: no partner call is made until the person reconnects (connect makes it due);
2. decrypts the tokens; refreshes them first when expired (:mod:`inlet.sync.tokens`);
3. asks the partner's adapter (``partners/<slug>/sync.py``) for batches; every partner request goes
   through :meth:`SyncRunner._call`: the shared budget and breaker, the bearer token, one forced
   refresh on a 401/403, latency metrics, and the failure classes of :mod:`inlet.partners.fetch`;
4. stores each batch in its own transaction (:meth:`SyncRunner._store`), fenced by the task's lease:
   the raw response, the mapped datums into the source's one continuous data set (unchanged records
   dropped, changed ones a new ``_version`` via ``dataset.delete.origin``), tombstones for deleted
   records, the source's earliest/latest data time and lastImportTime, and the stream watermarks the
   batch earned;
5. records the outcome: success resets the failure counts; a final auth failure (or the fourth
   authentication failure in a row) puts the source in ``error`` and emails the person and their
   clinics; transient failures back off and leave the source connected with its last error shown.

Logs name the task, the partner and the failure class, never a token or a health value.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx2
import orjson
from sqlalchemy import Connection, and_, func, insert, select, update

from inlet import __version__
from inlet.data import storage
from inlet.data.errors import DataSetNotFound
from inlet.data.records import DataSet
from inlet.db import payloads
from inlet.db.schema import data_sources, device_data, partner_payloads, provider_sessions, sync_tasks
from inlet.model.data_set import parse_data_set
from inlet.model.parse import Datum, parse_data
from inlet.model.timeutil import US, from_micros, to_micros
from inlet.partners.contract import MappingResult, Partner, Problem
from inlet.partners.fetch import (
    Adapter,
    AuthFailed,
    Batch,
    BudgetExhausted,
    FetchContext,
    OutOfTime,
    RateLimited,
    Transient,
)
from inlet.partners.states import CONNECTED, ERROR
from inlet.sync import metrics
from inlet.sync.budget import BudgetGate
from inlet.sync.leases import Lease
from inlet.sync.tokens import TokenKeeper, Tokens
from inlet.sync.worker import RunResult, TaskRun

if TYPE_CHECKING:
    from inlet.services import Services

log = logging.getLogger("inlet.sync")
AUTH_FAILURES_TO_ERROR = 4
DEFAULT_TIME_BUDGET = timedelta(minutes=15)
DEFAULT_RAW_RETENTION_DAYS = 30
RESUME_AFTER = timedelta(minutes=1)
PURGE_SHARE = 0.01  # one run in a hundred deletes the partner payloads past their retention
DEDUPLICATOR = "org.tidepool.deduplicator.dataset.delete.origin"
_DOC_STORAGE_KEYS = ("id", "uploadId")


class LeaseLost(Exception):
    """The task's lease was reclaimed by another worker: this run must not write anything more."""


@dataclass
class RunStats:
    calls: int = 0
    stored: int = 0
    replaced: int = 0
    unchanged: int = 0
    skipped: int = 0
    deleted: int = 0


@dataclass
class SourceView:
    id: str
    user_id: str
    state: str
    session_id: str | None
    data_set_id: str | None
    sync_state: dict[str, Any]
    token: str | None = field(default=None, repr=False)  # the session's ciphertext


def partner_adapter(partner: Partner) -> Adapter:
    """The partner folder's ``sync.Sync`` adapter (as ``Partner.client_class`` finds ``client.Client``)."""
    if partner.package is None:
        raise LookupError(f"partner {partner.slug} has no package")
    module = importlib.import_module(f"{partner.package}.sync")
    adapter: Adapter = module.Sync(partner)
    return adapter


@dataclass
class SyncRunner:
    """The ``run_task`` of the sync worker (see the module docstring).

    ``services`` is the composition root's :class:`inlet.services.Services`; ``transport`` replaces
    the network of the partner data calls (tests inject one); ``time_budget`` bounds one run;
    ``raw_retention_days``: partner payloads older than this are purged (0 keeps them forever)."""

    services: Services
    owner: str
    transport: httpx2.BaseTransport | None = None
    time_budget: timedelta = DEFAULT_TIME_BUDGET
    raw_retention_days: int = DEFAULT_RAW_RETENTION_DAYS
    rng: random.Random = field(default_factory=random.Random)
    adapter_for: Callable[[Partner], Adapter] = partner_adapter
    http_timeout: float = 15.0
    _http: httpx2.Client | None = field(default=None, init=False, repr=False)
    _gate: BudgetGate | None = field(default=None, init=False, repr=False)
    threads: int = 8
    _executor: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.engine = self.services.engine
        self.tokens = TokenKeeper(self.engine, self.services.partners, self.owner)

    @property
    def http(self) -> httpx2.Client:
        """One connection pool for every run of this worker (runs execute in threads)."""
        with self._lock:
            if self._http is None:
                limits = httpx2.Limits(max_connections=64, max_keepalive_connections=64)
                self._http = httpx2.Client(
                    transport=self.transport, timeout=self.http_timeout, trust_env=False, limits=limits
                )
            return self._http

    @property
    def gate(self) -> BudgetGate:
        with self._lock:
            if self._gate is None:
                self._gate = BudgetGate(self.engine, lambda: int(time.time() * US))
            return self._gate

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
            if self._http is not None:
                self._http.close()
                self._http = None

    async def __call__(self, run: TaskRun) -> RunResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.run, run)

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The runs' own threads, one per concurrent run (asyncio's default pool has cpu + 4)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="inlet-sync")
            return self._executor

    # ---- one run ---------------------------------------------------------------------------------

    def run(self, run: TaskRun) -> RunResult:
        partner, lease = run.partner, run.lease
        started = time.monotonic()
        base = to_micros(run.started)

        def clock() -> int:
            """The run's time: the worker's (database) clock at the claim, plus the time spent since."""
            return base + int((time.monotonic() - started) * US)

        source = self._load_source(lease)
        if source is None or source.state != CONNECTED or source.session_id is None:
            state = "missing" if source is None else source.state
            metrics.RUNS.labels(partner.slug, "parked").inc()
            return RunResult(
                "skipped",
                error={"code": "not-connected", "detail": f"the data source is {state}"},
                park=True,
            )
        stats = RunStats()
        outcome = "success"
        try:
            result = self._sync(run, partner, lease, source, stats, clock)
        except AuthFailed as failure:
            result = self._auth_failed(partner, lease, source, failure, clock)
            outcome = failure.code
        except RateLimited as failure:
            until = run.started + timedelta(seconds=max(1.0, failure.retry_after))
            self.gate.trip(partner.slug, to_micros(until), failure.detail)
            result = RunResult("failure", error=failure.error(), next_run_time=self._jitter(until))
            outcome = failure.code
        except BudgetExhausted as failure:
            result = RunResult("skipped", error=failure.error(), next_run_time=self._jitter(failure.until))
            outcome = failure.code
        except Transient as failure:
            result = RunResult("failure", error=failure.error())
            outcome = failure.code
        except LeaseLost:
            result = RunResult("failure", error={"code": "lease-lost", "detail": "the lease was reclaimed"})
            outcome = "lease-lost"
        metrics.RUNS.labels(partner.slug, outcome).inc()
        metrics.RUN_SECONDS.labels(partner.slug).observe(time.monotonic() - started)
        if outcome != "lease-lost":
            result = self._finish(source, stats, result, clock)
        log.info(
            "sync run",
            extra={
                "task": lease.task_id,
                "partner": partner.slug,
                "outcome": outcome,
                "calls": stats.calls,
                "stored": stats.stored,
                "updated": stats.replaced,
                "unchanged": stats.unchanged,
                "skipped": stats.skipped,
                "deleted": stats.deleted,
            },
        )
        return result

    def _jitter(self, when: datetime) -> datetime:
        return when + timedelta(seconds=self.rng.uniform(0, 60))

    def _sync(
        self,
        run: TaskRun,
        partner: Partner,
        lease: Lease,
        source: SourceView,
        stats: RunStats,
        clock: Callable[[], int],
    ) -> RunResult:
        assert source.session_id is not None
        assert source.token is not None
        tokens = self.tokens.decrypt(source.session_id, source.token)
        if tokens.expired(clock() / US):
            tokens = self.tokens.refresh(partner, tokens, clock)
        holder = _TokenHolder(tokens, clock)
        deadline = time.monotonic() + self.time_budget.total_seconds()
        ctx = FetchContext(
            partner=partner,
            now=run.started,
            state=dict(source.sync_state.get("streams") or {}),
            api=lambda path, params=None: self._call(partner, holder, stats, path, params),
            deadline=deadline,
        )
        adapter = self.adapter_for(partner)
        try:
            for batch in adapter.fetch(ctx):
                self._store(partner, lease, source, batch, stats, clock())
        except OutOfTime:
            log.info("sync run out of time; resuming soon", extra={"task": lease.task_id})
            return RunResult("success", next_run_time=run.started + RESUME_AFTER)
        return RunResult("success")

    # ---- partner calls ----------------------------------------------------------------------------

    def _call(
        self,
        partner: Partner,
        holder: _TokenHolder,
        stats: RunStats,
        path: str,
        params: Mapping[str, str] | None,
    ) -> Any:
        refused = self.gate.take(partner.slug, partner.policy.requests_per_hour)
        if refused is not None:
            until = from_micros(refused.until)
            detail = (
                "the partner is paused after it asked us to slow down"
                if refused.reason == "blocked"
                else "the partner's hourly request budget is spent"
            )
            raise BudgetExhausted(detail, until)
        url = f"{partner.api_url.rstrip('/')}/{path.lstrip('/')}"
        for attempt in (1, 2):
            stats.calls += 1
            began = time.monotonic()
            kind = path.rstrip("/").rsplit("/", 1)[-1]
            try:
                response = self.http.get(
                    url,
                    params=dict(params or {}),
                    headers={"Authorization": f"Bearer {holder.tokens.access}"},
                )
                body = response.content
            except httpx2.TimeoutException:
                metrics.PARTNER_CALLS.labels(partner.slug, kind, "timeout").inc()
                raise Transient(f"the partner did not answer {kind} in time") from None
            except httpx2.HTTPError as error:
                metrics.PARTNER_CALLS.labels(partner.slug, kind, "network").inc()
                raise Transient(f"the {kind} request failed ({type(error).__name__})") from None
            finally:
                metrics.PARTNER_LATENCY.labels(partner.slug).observe(time.monotonic() - began)
            status = response.status_code
            metrics.PARTNER_CALLS.labels(partner.slug, kind, str(status)).inc()
            if status in (401, 403):
                if attempt == 1:
                    holder.tokens = self.tokens.refresh(partner, holder.tokens, holder.clock)
                    continue
                raise AuthFailed(
                    f"the partner answered HTTP {status} to {kind} with a fresh token", final=False
                )
            if status == 429:
                raise RateLimited(f"the partner answered 429 to {kind}", _retry_after(response))
            if status >= 400:
                raise Transient(f"the partner answered HTTP {status} to {kind}")
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise Transient(f"the partner's {kind} response is not valid JSON") from None
            if not isinstance(parsed, dict):
                raise Transient(f"the partner's {kind} response is not a JSON object")
            return parsed
        raise AssertionError("unreachable")

    # ---- storing a batch ----------------------------------------------------------------------------

    def _store(
        self, partner: Partner, lease: Lease, source: SourceView, batch: Batch, stats: RunStats, now: int
    ) -> None:
        if batch.body is None and not batch.result.datums and not batch.result.deleted:
            streams = {**(source.sync_state.get("streams") or {}), **batch.state}
            source.sync_state = {**source.sync_state, "streams": streams}
            return
        datums, problems = _parse(batch.result)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # A batch lost in a crash loses its watermark with it, so it is simply fetched again:
                # no need to wait for the WAL flush (durability of each commit buys nothing here).
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            _fence(conn, lease)
            data_set = None
            if datums or batch.result.deleted:
                data_set = self._data_set(conn, partner, source, now)
            stored = replaced = unchanged = deleted = 0
            if data_set is not None and datums:
                fresh = _changed(conn, data_set.user_id, data_set.id, datums)
                unchanged = len(datums) - len(fresh)
                if fresh:
                    outcome = self.services.data.add_datums(conn, data_set, fresh)
                    stored, replaced = outcome.stored, outcome.replaced
            if data_set is not None and batch.result.deleted:
                deleted = _tombstone(conn, data_set.user_id, data_set.id, batch.result.deleted, now)
            skipped = [p for p in problems if p.skipped]
            conn.execute(
                insert(partner_payloads).values(
                    data_source_id=source.id,
                    user_id=source.user_id,
                    provider_name=partner.slug,
                    kind=batch.kind,
                    fetched_time=now,
                    record_count=batch.records,
                    skipped=[{"recordId": p.record_id, "reason": p.reason} for p in skipped] or None,
                    body=batch.body,
                )
            )
            streams = dict(source.sync_state.get("streams") or {})
            streams.update(batch.state)
            counters = dict(source.sync_state.get("counters") or {})
            for key, value in (
                ("records", stored - replaced),
                ("updated", replaced),
                ("skipped", len(skipped)),
                ("deleted", deleted),
            ):
                counters[key] = counters.get(key, 0) + value
            source.sync_state = {**source.sync_state, "streams": streams, "counters": counters}
            values: dict[str, Any] = {"sync_state": source.sync_state}
            times = [to_micros(d.time) for d in datums]
            if stored or deleted:
                values["last_import_time"] = now
                values["modified_time"] = now
            if times and stored:
                first, last = min(times), max(times)
                s = data_sources.c
                # SQLite's two-argument min/max are scalar; PostgreSQL spells them least/greatest.
                low, high = (
                    (func.least, func.greatest) if conn.dialect.name == "postgresql" else (func.min, func.max)
                )
                values["earliest_data_time"] = low(func.coalesce(s.earliest_data_time, first), first)
                values["latest_data_time"] = high(func.coalesce(s.latest_data_time, last), last)
            conn.execute(update(data_sources).where(data_sources.c.id == source.id).values(**values))
        stats.stored += stored - replaced
        stats.replaced += replaced
        stats.unchanged += unchanged
        stats.skipped += len(skipped)
        stats.deleted += deleted
        metrics.RECORDS.labels(partner.slug, "stored").inc(stored - replaced)
        metrics.RECORDS.labels(partner.slug, "updated").inc(replaced)
        metrics.RECORDS.labels(partner.slug, "unchanged").inc(unchanged)
        metrics.RECORDS.labels(partner.slug, "skipped").inc(len(skipped))
        metrics.RECORDS.labels(partner.slug, "deleted").inc(deleted)
        for problem in skipped:
            # the reason may quote a value: it stays in partner_payloads, never in a log line
            log.warning(
                "partner record skipped",
                extra={
                    "task": lease.task_id,
                    "partner": partner.slug,
                    "kind": problem.kind,
                    "record": problem.record_id,
                    "field": problem.field,
                },
            )

    def _data_set(self, conn: Connection, partner: Partner, source: SourceView, now: int) -> DataSet:
        """The source's one continuous data set, created on its first data."""
        data = self.services.data
        if source.data_set_id is not None:
            try:
                found: DataSet = data.get_data_set(conn, source.data_set_id)
                return found
            except DataSetNotFound:
                pass  # deleted by its owner: start a new one
        parsed, errors = parse_data_set(
            {
                "type": "upload",
                "dataSetType": "continuous",
                "client": {"name": f"org.inlet.partner.{partner.slug}", "version": __version__},
                "deduplicator": {"name": DEDUPLICATOR},
                "deviceManufacturers": [partner.display_name],
            }
        )
        assert parsed is not None, errors
        created: DataSet = data.create_data_set_from(conn, source.user_id, parsed)
        source.data_set_id = created.id
        conn.execute(
            update(data_sources).where(data_sources.c.id == source.id).values(data_set_id=created.id)
        )
        return created

    # ---- the outcome --------------------------------------------------------------------------------

    def _auth_failed(
        self,
        partner: Partner,
        lease: Lease,
        source: SourceView,
        failure: AuthFailed,
        clock: Callable[[], int],
    ) -> RunResult:
        failures = int(source.sync_state.get("authFailures") or 0) + 1
        source.sync_state = {**source.sync_state, "authFailures": failures}
        final = failure.final or failures >= AUTH_FAILURES_TO_ERROR
        if not final:
            return RunResult("failure", error=failure.error())
        error = failure.error()
        if not failure.final:
            error["detail"] = f"{failure.detail} ({failures} runs in a row)"
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(data_sources)
                .where(data_sources.c.id == source.id, data_sources.c.state == CONNECTED)
                .values(
                    state=ERROR,
                    error=error,
                    modified_time=clock(),
                    revision=data_sources.c.revision + 1,
                )
            )
            if changed.rowcount == 1:
                _tell_people(conn, self.services, partner, source.user_id, error)
        log.warning(
            "data source in error",
            extra={"task": lease.task_id, "partner": partner.slug, "failure": error["code"]},
        )
        return RunResult("failure", error=error, park=True)

    def _finish(
        self, source: SourceView, stats: RunStats, result: RunResult, clock: Callable[[], int]
    ) -> RunResult:
        """The run's outcome with its last writes (counters, stream state, the payload purge now and
        then), which the worker performs in the completion's transaction."""
        counters = dict(source.sync_state.get("counters") or {})
        counters["runs"] = counters.get("runs", 0) + 1
        counters["calls"] = counters.get("calls", 0) + stats.calls
        state = {**source.sync_state, "counters": counters}
        if result.outcome == "success":
            state["authFailures"] = 0
        purge = self.raw_retention_days > 0 and self.rng.random() < PURGE_SHARE
        cutoff = clock() - self.raw_retention_days * 86_400 * US

        def write(conn: Connection) -> None:
            conn.execute(update(data_sources).where(data_sources.c.id == source.id).values(sync_state=state))
            if purge:
                # next days' partitions, and whole days past retention dropped (PostgreSQL)
                payloads.maintain(conn, clock(), cutoff)

        return replace(result, calls=stats.calls, on_complete=write)

    def _load_source(self, lease: Lease) -> SourceView | None:
        """The data source with its session's encrypted token, in one query."""
        s, p = data_sources.c, provider_sessions.c
        query = (
            select(s.id, s.user_id, s.state, s.data_set_id, s.sync_state, p.id.label("session_id"), p.token)
            .select_from(data_sources.outerjoin(provider_sessions, p.id == s.provider_session_id))
            .where(s.id == lease.data_source_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return SourceView(
            row.id,
            row.user_id,
            row.state,
            row.session_id,
            row.data_set_id,
            dict(row.sync_state or {}),
            row.token,
        )


@dataclass
class _TokenHolder:
    tokens: Tokens
    clock: Callable[[], int]


def _retry_after(response: httpx2.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(1.0, float(value))
    except ValueError:
        return 60.0


def _fence(conn: Connection, lease: Lease) -> None:
    """Lock the task row and check the lease is still ours (so no stale worker writes)."""
    t = sync_tasks.c
    held = conn.execute(
        select(t.id)
        .where(t.id == lease.task_id, t.lease_owner == lease.owner, t.lease_generation == lease.generation)
        .with_for_update()
    ).first()
    if held is None:
        raise LeaseLost


def _parse(result: MappingResult) -> tuple[list[Datum], list[Problem]]:
    """Validate and normalize the mapped datums; invalid ones become skipped problems."""
    problems = list(result.problems)
    if not result.datums:
        return [], problems
    parsed = parse_data(result.datums)
    if parsed.ok:
        return parsed.datums, problems
    datums: list[Datum] = []
    for raw in result.datums:
        one = parse_data([raw])
        if one.ok:
            datums.extend(one.datums)
            continue
        origin = raw.get("origin") if isinstance(raw, dict) else None
        rid = origin.get("id") if isinstance(origin, dict) else None
        reason = "; ".join(f"{err.pointer}: {err.detail}" for err in one.errors[:3])
        problems.append(Problem(str(raw.get("type")), rid, f"not a valid datum: {reason}"))
    return datums, problems


def _comparable(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _DOC_STORAGE_KEYS}


def _changed(conn: Connection, user_id: str, data_set_id: str, datums: list[Datum]) -> list[Datum]:
    """The datums that are new or differ from the current version stored under their origin id."""
    ids = [d.doc["origin"]["id"] for d in datums if isinstance(d.doc.get("origin"), dict)]
    if not ids:
        return datums
    current = storage.current_docs_by_origin(conn, user_id, data_set_id, ids)
    fresh = []
    for datum in datums:
        origin = datum.doc.get("origin")
        stored = current.get(str(origin.get("id"))) if isinstance(origin, dict) else None
        if stored is not None and _comparable(stored) == _comparable(datum.doc):
            continue
        fresh.append(datum)
    return fresh


def _tombstone(conn: Connection, user_id: str, data_set_id: str, origin_ids: list[str], now: int) -> int:
    d = device_data.c
    result = conn.execute(
        update(device_data)
        .where(
            and_(
                d.user_id == user_id,
                d.data_set_id == data_set_id,
                d.origin_id.in_(origin_ids),
                d.archived_time.is_(None),
                d.deleted_time.is_(None),
            )
        )
        .values(active=False, deleted_time=now, modified_time=now)
    )
    return int(result.rowcount or 0)


def _tell_people(
    conn: Connection, services: Services, partner: Partner, user_id: str, error: dict[str, Any]
) -> None:
    """Email the person and their clinics that the connection stopped and how to fix it."""
    link = f"{services.settings.public_base}/profile"
    name = partner.display_name
    subject = f"Your {name} connection to Inlet stopped"
    body = (
        f"Hello,\n\nInlet can no longer fetch data from {name}: {error['title']}.\n"
        f"({error['detail']})\n\n"
        f"Nothing more is fetched until the account is connected again. To reconnect, open your "
        f"profile and choose Reconnect next to {name}:\n\n{link}\n\n"
        f"Data already fetched stays in Inlet.\n"
    )
    for address in services.contacts(conn, user_id):
        try:
            services.notifier.send(conn, address, subject, body, link)
        except ValueError:
            log.warning("an address cannot be emailed", extra={"partner": partner.slug, "user": user_id})
