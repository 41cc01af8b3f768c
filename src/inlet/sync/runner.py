"""The partner sync runner: one run of one person's sync task, from tokens to stored data.

A run (``SyncRunner.__call__``, given to :class:`inlet.sync.worker.Worker`):

1. loads the data source and its provider session; a source that is not ``connected`` (or has no
   session) is *parked*: no partner call is made until the person reconnects (connect makes it due);
2. decrypts the tokens; refreshes them first when expired (:mod:`inlet.sync.tokens`);
3. asks the partner's adapter (``partners/<slug>/sync.py``) for batches; every partner request goes
   through :mod:`inlet.sync.caller`: the run's ``httpx.Auth`` flow (the bearer token, one forced
   refresh on a 401, the lease and blackout checked before each request) over the worker's
   transport wrapper (the shared budget and breaker, latency metrics), its answers turned into the
   failure classes of :mod:`inlet.partners.fetch`;
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
import functools
import importlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx2
import orjson
from sqlalchemy import (
    BigInteger,
    Connection,
    String,
    and_,
    bindparam,
    column,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB

from inlet import __version__
from inlet.data import storage
from inlet.data.records import DataSet
from inlet.db import payloads
from inlet.db.schema import (
    data_sets,
    data_sources,
    device_data,
    partner_payloads,
    provider_sessions,
    sync_tasks,
)
from inlet.model.data_set import parse_data_set
from inlet.model.parse import Datum, parse_data
from inlet.model.timeutil import US, from_micros, to_micros
from inlet.partners import lifecycle
from inlet.partners.contract import MappingResult, Partner, Problem
from inlet.partners.fetch import (
    Adapter,
    AuthFailed,
    Batch,
    BudgetExhausted,
    FetchContext,
    Forbidden,
    OutOfTime,
    RateLimited,
    Transient,
)
from inlet.partners.lifecycle import RunFence, SyncState
from inlet.partners.states import CONNECTED
from inlet.summaries import store as summaries
from inlet.sync import metrics
from inlet.sync.budget import BudgetGate
from inlet.sync.caller import (
    CallInfo,
    InBlackout,
    LeaseLost,
    PartnerCaller,
    RunAuth,
    storable,
)
from inlet.sync.leases import HELD, DbClock, Lease, db_now, fence_parameters
from inlet.sync.policy import backoff_delay
from inlet.sync.tokens import TokenKeeper
from inlet.sync.worker import DATABASE_DOWN, INTERNAL_BACKOFF_CAP, RunResult, TaskRun, WritesRefused, where

if TYPE_CHECKING:
    from inlet.services import Services

log = logging.getLogger("inlet.sync")
AUTH_FAILURES_TO_ERROR = 4
INTERNAL_FAILURES_TO_ERROR = 4
# The database itself failing (a restart, a lost connection): not the source's fault, not counted.
DEFAULT_TIME_BUDGET = timedelta(minutes=15)
DEFAULT_RAW_RETENTION_DAYS = 30
RESUME_AFTER = timedelta(minutes=1)
# A run's batches are stored together until they hold this many records (a catch-up's 30-day
# windows, thousands of readings each, go one per transaction).
GROUP_RECORDS = 500
PURGE_SHARE = 0.01  # one run in a hundred deletes the partner payloads past their retention
DEDUPLICATOR = "org.tidepool.deduplicator.dataset.delete.origin"
_DOC_STORAGE_KEYS = ("id", "uploadId")


@dataclass
class RunStats:
    calls: int = 0
    stored: int = 0
    replaced: int = 0
    unchanged: int = 0
    skipped: int = 0
    deleted: int = 0
    forbidden: set[str] = field(default_factory=set)  # endpoints that answered 403 (streams skipped)
    # The run's last group of batches, stored with its outcome in the completion's transaction.
    last: list[Batch] = field(default_factory=list)


@dataclass
class SourceView:
    id: str
    user_id: str
    state: str
    session_id: str | None
    data_set: DataSet | None  # the source's continuous data set (None until its first data)
    sync_state: SyncState
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
    db_clock: DbClock = db_now  # the database's time: budget windows and the breaker are judged on it
    _caller: PartnerCaller | None = field(default=None, init=False, repr=False)
    _gate: BudgetGate | None = field(default=None, init=False, repr=False)
    threads: int = 8
    _executor: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.engine = self.services.engine
        self.tokens = TokenKeeper(self.engine, self.services.partners, self.owner)

    @property
    def caller(self) -> PartnerCaller:
        """One connection pool for every run of this worker (runs execute in threads), behind the
        partners' shared budget and breaker (:class:`inlet.sync.caller.GatedTransport`)."""
        with self._lock:
            if self._caller is None:
                inner = self.transport or httpx2.HTTPTransport(
                    limits=httpx2.Limits(max_connections=64, max_keepalive_connections=64), trust_env=False
                )
                self._caller = PartnerCaller(inner, self._make_gate(), self.http_timeout)
            return self._caller

    @property
    def gate(self) -> BudgetGate:
        with self._lock:
            return self._make_gate()

    def _make_gate(self) -> BudgetGate:
        if self._gate is None:
            self._gate = BudgetGate(self.engine, lambda: int(time.time() * US), self.db_clock)
        return self._gate

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
            if self._caller is not None:
                self._caller.close()
                self._caller = None

    async def __call__(self, run: TaskRun) -> RunResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._run_and_complete, run)

    def _run_and_complete(self, run: TaskRun) -> RunResult:
        """The run, then its completion, in the same thread (:meth:`TaskRun.complete`)."""
        return run.complete(self.run(run))

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

        found = run.prepared if run.prepared is not None else self._load_source(lease)  # read with the claim
        source: SourceView | None = None if found is MISSING else found
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
        except Forbidden as failure:  # the adapter's essential first request: as an auth failure
            result = self._auth_failed(partner, lease, source, AuthFailed(failure.detail, final=False), clock)
            outcome = "authentication"
        except RateLimited as failure:
            # from the moment the partner answered (late in a long run, its start is long past); the
            # transport has opened the partner's breaker for every worker
            until = from_micros(clock()) + timedelta(seconds=max(1.0, failure.retry_after))
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
        except InBlackout:
            log.info("sync run stopped: the partner's blackout window began", extra={"task": lease.task_id})
            result = RunResult("skipped", next_run_time=from_micros(clock()))  # moved past the window
            outcome = "blackout"
        except DATABASE_DOWN as failure:
            # The database itself (restarting, unreachable): nobody's fault here, retried soon.
            log.warning(
                "sync run: the database is unavailable",
                extra={"task": lease.task_id, "partner": partner.slug, "error": type(failure).__name__},
            )
            detail = f"the database was unavailable ({type(failure).__name__})"
            result = RunResult("failure", error={"code": "database-unavailable", "detail": detail})
            outcome = "database-unavailable"
        except Exception as failure:  # anything unforeseen: recorded, counted, never a silent stop
            result = self._internal(partner, lease, source, failure, clock)
            outcome = "internal"
        metrics.RUNS.labels(partner.slug, outcome).inc()
        metrics.RUN_SECONDS.labels(partner.slug).observe(time.monotonic() - started)
        if outcome != "lease-lost":
            result = self._finish(partner, lease, source, stats, result, clock)
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
                "forbidden": sorted(stats.forbidden),
                "pending": sum(batch.records for batch in stats.last),  # stored with the completion
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
        auth = RunAuth(partner, self.tokens, tokens, clock, run.lost)
        if tokens.expired(clock() / US):
            auth.refresh()
        caller = self.caller

        def api(path: str, params: Mapping[str, str] | None = None) -> Any:
            call = CallInfo(partner)
            try:
                return caller.get(auth, call, path, params)
            finally:
                stats.calls += call.sent

        deadline = time.monotonic() + self.time_budget.total_seconds()
        ctx = FetchContext(
            partner=partner,
            now=run.started,
            state=dict(source.sync_state.streams),
            api=api,
            deadline=deadline,
        )
        adapter = self.adapter_for(partner)
        # The run's batches are stored together, in order, in as few transactions as their size
        # allows: each group's watermarks go with its data, so a run stopped anywhere still resumes
        # from what it stored. What was fetched before a failure is stored before the failure counts.
        pending: list[Batch] = []

        def flush() -> None:
            if pending:
                self._store(partner, lease, source, pending, stats, clock())
                pending.clear()

        try:
            for batch in adapter.fetch(ctx):
                pending.append(batch)
                if sum(b.records for b in pending) >= GROUP_RECORDS:
                    flush()
        except OutOfTime:
            flush()
            log.info("sync run out of time; resuming soon", extra={"task": lease.task_id})
            return RunResult("success", next_run_time=run.started + RESUME_AFTER)
        except (LeaseLost, *DATABASE_DOWN):
            raise
        except Exception:
            flush()
            raise
        stats.last = list(pending)  # stored with the outcome, in the completion's transaction
        return RunResult("success")

    # ---- storing a batch ----------------------------------------------------------------------------

    def _store(
        self,
        partner: Partner,
        lease: Lease,
        source: SourceView,
        batches: list[Batch],
        stats: RunStats,
        now: int,
    ) -> None:
        """Store a group of the run's batches in one transaction; a group the database refuses is
        stored batch by batch (and a batch it refuses, record by record)."""
        if _state_only(source, batches):
            return
        if len(batches) == 1:
            self._store_one(partner, lease, source, batches[0], stats, now)
            return
        parsed = [_parse(batch.result) for batch in batches]
        try:
            counts = self._write(partner, lease, source, batches, parsed, now, None)
        except UNSTORABLE:
            for batch in batches:
                self._store(partner, lease, source, [batch], stats, now)
            return
        self._count(partner, lease, stats, counts)

    def _store_last(
        self,
        conn: Connection,
        partner: Partner,
        lease: Lease,
        source: SourceView,
        batches: list[Batch],
        stats: RunStats,
        now: int,
    ) -> bool:
        """The run's last group in the completion's transaction ``conn`` (whose completion has just
        checked and locked the lease), with the run's whole state: whether it was written. A group
        the database refuses raises :class:`WritesRefused`: the completion rolls back and the group
        is stored by :meth:`_store`'s fallbacks instead."""
        if _state_only(source, batches):
            return False
        parsed = [_parse(batch.result) for batch in batches]
        try:
            counts = self._write(partner, lease, source, batches, parsed, now, None, within=conn)
        except UNSTORABLE as refused:
            raise WritesRefused from refused
        self._count(partner, lease, stats, counts)
        return True

    def _store_one(
        self, partner: Partner, lease: Lease, source: SourceView, batch: Batch, stats: RunStats, now: int
    ) -> None:
        datums, problems = _parse(batch.result)
        try:
            counts = self._write(partner, lease, source, [batch], [(datums, problems)], now, None)
        except UNSTORABLE as error:
            # One record the database refuses must not hold back the others (nor the watermark):
            # store the records one by one, skip (and count) the refused ones, then the batch itself.
            log.warning(
                "a batch was refused by the database; storing its records one by one",
                extra={"task": lease.task_id, "partner": partner.slug, "error": type(error).__name__},
            )
            kept: list[Datum] = []
            added = [0, 0, 0]
            for datum in datums:
                try:
                    one = self._add(partner, lease, source, [datum], now)
                except UNSTORABLE as refused:
                    origin = datum.doc.get("origin")
                    rid = origin.get("id") if isinstance(origin, dict) else None
                    reason = f"the database refused the record ({type(refused).__name__})"
                    problems.append(Problem(datum.type, None if rid is None else str(rid), reason))
                    continue
                kept.append(datum)
                added = [a + b for a, b in zip(added, one, strict=True)]
            if len(datums) > 1 and not kept:
                raise  # every record refused: not a record's fault (the run fails and says so)
            counts = self._write(partner, lease, source, [batch], [(kept, problems)], now, tuple(added))
        self._count(partner, lease, stats, counts)

    def _count(
        self,
        partner: Partner,
        lease: Lease,
        stats: RunStats,
        counts: tuple[int, int, int, int, list[Problem]],
    ) -> None:
        stored, replaced, unchanged, deleted, skipped = counts
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

    def _add(
        self, partner: Partner, lease: Lease, source: SourceView, datums: list[Datum], now: int
    ) -> tuple[int, int, int]:
        """Store ``datums`` alone (the one-by-one fallback): stored, replaced, unchanged."""
        with self.engine.begin() as conn:
            data_set, created = self._data_set(conn, partner, source)
            counts = self._datums(conn, data_set, datums)
            self._update_source(
                conn, lease, source, SourceUpdate(data_set_id=data_set.id if created else None)
            )
        if created:
            source.data_set = data_set
        return counts

    def _datums(self, conn: Connection, data_set: DataSet, datums: list[Datum]) -> tuple[int, int, int]:
        """The datums into the set, those fetched again unchanged dropped first: stored, replaced,
        unchanged. One lookup of the current rows by origin id serves both the unchanged check and
        the deduplicator."""
        if not datums:
            return 0, 0, 0
        ids = [str(d.doc["origin"]["id"]) for d in datums if isinstance(d.doc.get("origin"), dict)]
        current = storage.current_by_origin(conn, data_set.user_id, data_set.id, ids, doc=True) if ids else {}
        fresh = _changed(current, datums)
        if not fresh:
            return 0, 0, len(datums)
        outcome = self.services.data.add_datums(conn, data_set, fresh, current=current)
        return outcome.stored, outcome.replaced, len(datums) - len(fresh)

    def _write(
        self,
        partner: Partner,
        lease: Lease,
        source: SourceView,
        batches: list[Batch],
        parsed: list[tuple[list[Datum], list[Problem]]],
        now: int,
        added: tuple[int, ...] | None,
        within: Connection | None = None,
    ) -> tuple[int, int, int, int, list[Problem]]:
        """Batches in one transaction: their datums (unless ``added`` says they are already stored),
        tombstones, the raw payloads with the skipped records, counters, times and watermarks; the
        lease fence is the source's update itself, the transaction's last statement. ``within``: the
        completion's transaction, which has fenced the lease already (the update is not fenced again:
        the completion released the lease, holding the task's row until it commits)."""
        created = False
        data_set = source.data_set
        datums = [datum for batch_datums, _ in parsed for datum in batch_datums]
        deletions = [origin for batch in batches for origin in batch.result.deleted]
        skipped_of = [[p for p in problems if p.skipped] for _, problems in parsed]
        skipped = [p for group in skipped_of for p in group]
        streams: dict[str, Any] = {}
        for batch in batches:
            streams.update(batch.state)
        with self.engine.begin() if within is None else nullcontext(within) as conn:
            if datums or deletions:
                data_set, created = self._data_set(conn, partner, source)
            stored = replaced = unchanged = deleted = 0
            if added is not None:
                stored, replaced, unchanged = added
            elif data_set is not None and datums:
                stored, replaced, unchanged = self._datums(conn, data_set, datums)
            if data_set is not None and deletions:
                deleted = _tombstone(conn, data_set.id, source.user_id, deletions, now)
            payload_rows = [
                {
                    "data_source_id": source.id,
                    "user_id": source.user_id,
                    "provider_name": partner.slug,
                    "kind": batch.kind,
                    "fetched_time": now,
                    "record_count": batch.records,
                    "skipped": storable([{"recordId": p.record_id, "reason": p.reason} for p in group])
                    or None,
                    "body": batch.body,
                }
                for batch, group in zip(batches, skipped_of, strict=True)
                if not _empty(batch)
            ]
            postgres = conn.dialect.name == "postgresql"
            if payload_rows and not postgres:  # PostgreSQL: written by the source's update, as its CTE
                conn.execute(insert(partner_payloads), payload_rows)
            counters = dict(source.sync_state.counters)
            for key, value in (
                ("records", stored - replaced),
                ("updated", replaced),
                ("skipped", len(skipped)),
                ("deleted", deleted),
            ):
                counters[key] = counters.get(key, 0) + value
            patch: dict[str, Any] = {"streams": streams, "counters": counters}
            if within is not None:
                # The completion's transaction: the run's whole outcome state goes with the group
                # (the watermarks of its empty answers too), so it needs no update of its own.
                patch = {**source.sync_state.dump(), **patch}
                patch["streams"] = {**source.sync_state.streams, **streams}
            times = [to_micros(d.time) for d in datums]
            change = SourceUpdate(
                state=patch,
                data_set_id=data_set.id if created and data_set is not None else None,
                imported=now if stored or deleted else None,
                times=(min(times), max(times)) if times and stored else None,
                payloads=payload_rows if postgres else None,
            )
            self._update_source(conn, lease, source, change, fenced=within is None)
        # only once committed (or, ``within``, once written: a later failure ends the run)
        if created:
            source.data_set = data_set
        source.sync_state.streams.update(streams)
        source.sync_state.counters = counters
        return stored, replaced, unchanged, deleted, skipped

    def _update_source(
        self, conn: Connection, lease: Lease, source: SourceView, change: SourceUpdate, *, fenced: bool = True
    ) -> None:
        """The batch's update of its data source, fenced by the task's lease in the same statement
        (:func:`_source_update`); :class:`LeaseLost` (the transaction rolls back) when the lease is no
        longer this run's."""
        if _send_source_update(conn, source.id, change, lease if fenced else None) != 1:
            raise LeaseLost

    def _data_set(self, conn: Connection, partner: Partner, source: SourceView) -> tuple[DataSet, bool]:
        """The source's one continuous data set (read with the source), created on its first data
        or when its owner deleted it: (the set, whether it was created now)."""
        if source.data_set is not None:
            return source.data_set, False
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
        created: DataSet = self.services.data.create_data_set_from(conn, source.user_id, parsed)
        return created, True

    # ---- the outcome --------------------------------------------------------------------------------

    def _auth_failed(
        self,
        partner: Partner,
        lease: Lease,
        source: SourceView,
        failure: AuthFailed,
        clock: Callable[[], int],
    ) -> RunResult:
        source.sync_state.auth_failures += 1
        failures = source.sync_state.auth_failures
        final = failure.final or failures >= AUTH_FAILURES_TO_ERROR
        if not final:
            return RunResult("failure", error=failure.error())
        error = failure.error()
        if not failure.final:
            error["detail"] = f"{failure.detail} ({failures} runs in a row)"
        return self._to_error(partner, lease, source, error, clock)

    def _internal(
        self,
        partner: Partner,
        lease: Lease,
        source: SourceView,
        failure: Exception,
        clock: Callable[[], int],
    ) -> RunResult:
        """An unforeseen failure: logged with its class and where it was raised (never its message,
        which may quote a value), backed off at most :data:`INTERNAL_BACKOFF_CAP`; the fourth in a row
        puts the source in ``error`` and tells the person, as a revoked grant does."""
        log.error(
            "sync run failed internally",
            extra={
                "task": lease.task_id,
                "partner": partner.slug,
                "error": type(failure).__name__,
                "where": where(failure),
            },
        )
        source.sync_state.internal_failures += 1
        failures = source.sync_state.internal_failures
        error = {
            "code": "internal",
            "title": "Inlet could not sync this account",
            "detail": f"an internal error ({type(failure).__name__}) stopped {failures} run(s) in a row",
        }
        if failures >= INTERNAL_FAILURES_TO_ERROR:
            return self._to_error(partner, lease, source, error, clock)
        delay = backoff_delay(failures, self.rng, cap=INTERNAL_BACKOFF_CAP)
        return RunResult("failure", error=error, next_run_time=from_micros(clock()) + delay)

    def _to_error(
        self,
        partner: Partner,
        lease: Lease,
        source: SourceView,
        error: dict[str, Any],
        clock: Callable[[], int],
    ) -> RunResult:
        """The source -> ``error`` (fenced by this run's lease and session: a run that outlived a
        reconnect changes nothing) and the people told, once; the task parks until a reconnect."""
        assert source.session_id is not None
        fence = RunFence(lease.task_id, lease.owner, lease.generation)
        emails: list[int] = []
        with self.engine.begin() as conn:
            changed = lifecycle.fail(conn, source.id, source.session_id, error, clock(), fence)
            if changed:
                emails = tell_people(conn, self.services, partner, source.user_id, error)
        self.services.notifier.deliver(self.engine, emails)  # after the commit (transactional outbox)
        if not changed:
            log.info(
                "sync run: the source changed meanwhile; its failure is not recorded on it",
                extra={"task": lease.task_id, "partner": partner.slug, "failure": error["code"]},
            )
            return RunResult("failure", error=error)
        log.warning(
            "data source in error",
            extra={"task": lease.task_id, "partner": partner.slug, "failure": error["code"]},
        )
        return RunResult("failure", error=error, park=True)

    def _finish(
        self,
        partner: Partner,
        lease: Lease,
        source: SourceView,
        stats: RunStats,
        result: RunResult,
        clock: Callable[[], int],
    ) -> RunResult:
        """The run's outcome with its last writes (its last group of batches, counters, stream
        state, the payload purge now and then), which the worker performs in the completion's
        transaction: a run with new data commits twice at most (a group, the completion)."""
        source.sync_state.count(runs=1, calls=stats.calls)
        if result.outcome == "success":
            source.sync_state.auth_failures = 0
            source.sync_state.internal_failures = 0
        purge = self.raw_retention_days > 0 and self.rng.random() < PURGE_SHARE
        cutoff = clock() - self.raw_retention_days * 86_400 * US
        group = stats.last

        def write(conn: Connection) -> None:
            if not (group and self._store_last(conn, partner, lease, source, group, stats, clock())):
                _send_source_update(conn, source.id, SourceUpdate(state=source.sync_state.dump()))
            if purge:
                # next days' partitions, and whole days past retention dropped (PostgreSQL)
                payloads.maintain(conn, clock(), cutoff)

        def recover() -> RunResult:
            """The group was refused inside the completion: stored on its own (batch by batch, then
            record by record), and the run completed after it."""
            outcome = result
            try:
                self._store(partner, lease, source, group, stats, clock())
            except LeaseLost:
                pass  # the completion is refused as well
            except Exception as failure:
                outcome = self._internal(partner, lease, source, failure, clock)
            group.clear()
            return replace(outcome, calls=stats.calls, on_complete=write, recover=None)

        return replace(result, calls=stats.calls, on_complete=write, recover=recover if group else None)

    def prepare(self, conn: Connection, leases: list[Lease]) -> dict[str, Any]:
        """The worker's ``prepare``: the claimed tasks' sources read in the claim's transaction, in
        one query (a run then needs no read of its own): task id -> :class:`SourceView` or
        :data:`MISSING`."""
        ids = [lease.data_source_id for lease in leases]
        rows = conn.execute(_LOAD_SOURCES, {"source_ids": ids}).all()
        sources = {row.id: _source_view(row) for row in rows}
        return {lease.task_id: sources.get(lease.data_source_id, MISSING) for lease in leases}

    def _load_source(self, lease: Lease) -> Any:
        """:meth:`prepare` for one task, when the worker did not prepare it: its :class:`SourceView`
        or :data:`MISSING`."""
        with self.engine.connect() as conn:
            return self.prepare(conn, [lease])[lease.task_id]


MISSING = object()  # a claimed task whose data source is gone (:meth:`SyncRunner.prepare`)


def _source_view(row: Any) -> SourceView:
    """A row of :func:`_load_sources_query` as the run sees its source."""
    m = row._mapping
    data_set = None
    if m["set_id"] is not None:  # a set its owner deleted is not used: the first batch starts one
        data_set = DataSet.from_mapping({c.name: m[f"set_{c.name}"] for c in data_sets.c})
    return SourceView(
        row.id,
        row.user_id,
        row.state,
        row.session_id,
        data_set,
        SyncState.load(row.sync_state),
        row.token,
    )


def _load_sources_query() -> Any:
    s, p, ds = data_sources.c, provider_sessions.c, data_sets.c
    set_columns = [c.label(f"set_{c.name}") for c in data_sets.c]
    return (
        select(s.id, s.user_id, s.state, s.sync_state, p.id.label("session_id"), p.token, *set_columns)
        .select_from(
            data_sources.outerjoin(provider_sessions, p.id == s.provider_session_id).outerjoin(
                data_sets, and_(ds.id == s.data_set_id, ds.deleted_time.is_(None))
            )
        )
        .where(s.id.in_(bindparam("source_ids", expanding=True)))
    )


# Built once (every claim sends it): SQLAlchemy then neither builds nor hashes it per claim.
_LOAD_SOURCES = _load_sources_query()


# What a database refuses to store: PostgreSQL's text and JSONB hold no NUL, and no text holds a lone
# surrogate. Any other refusal of one record is met by storing the batch's records one by one.
UNSTORABLE = (sa_exc.DataError, sa_exc.IntegrityError, sa_exc.ProgrammingError, ValueError, UnicodeError)


def _empty(batch: Batch) -> bool:
    """An answer with no records (or a batch of watermarks only): nothing to store but its state."""
    return not batch.records and not batch.result.datums and not batch.result.deleted


_PAYLOAD_COLUMNS = [c for c in partner_payloads.c if c.name != "id"]
_PAYLOAD_ROWS = (
    func.jsonb_to_recordset(bindparam("payload_rows", type_=JSONB))
    .table_valued(*(column(c.name, c.type) for c in _PAYLOAD_COLUMNS))
    .render_derived(name="payload", with_types=True)
)
# PostgreSQL: a batch's raw payloads, inserted as the CTE of its source's update, arrive as one JSON
# array (``jsonb_to_recordset``), so the SQL is the same for any number of rows and SQLAlchemy compiles
# it once (a multi-row VALUES is compiled anew for every statement).
_PAYLOADS = insert(partner_payloads).from_select(
    [c.name for c in _PAYLOAD_COLUMNS], select(*(_PAYLOAD_ROWS.c[c.name] for c in _PAYLOAD_COLUMNS))
)


@dataclass
class SourceUpdate:
    """What a batch changes on its data source: ``state`` merged into ``sync_state`` (its ``streams``
    key by key, :func:`_source_update`), the data set it created, the import time, the earliest and
    latest data time it stored, and (PostgreSQL) the raw payload rows its update inserts as a CTE."""

    state: dict[str, Any] | None = None
    data_set_id: str | None = None
    imported: int | None = None  # lastImportTime and modifiedTime
    times: tuple[int, int] | None = None  # (earliest, latest) data time stored
    payloads: list[dict[str, Any]] | None = None

    def shape(self) -> tuple[bool, ...]:
        return (
            self.state is not None,
            self.data_set_id is not None,
            self.imported is not None,
            self.times is not None,
            bool(self.payloads),
        )

    def parameters(self, postgres: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.state is not None:
            if postgres:
                out["state_top"] = {k: v for k, v in self.state.items() if k != "streams"}
                out["state_streams"] = self.state.get("streams", {})
            else:  # json_patch (RFC 7396) merges objects recursively; watermarks are never null
                out["state_patch"] = orjson.dumps(self.state).decode()
        if self.data_set_id is not None:
            out["new_data_set_id"] = self.data_set_id
        if self.imported is not None:
            out["imported"] = self.imported
        if self.times is not None:
            out["first_time"], out["last_time"] = self.times
        if self.payloads:
            out["payload_rows"] = self.payloads
        return out


def _send_source_update(
    conn: Connection, source_id: str, change: SourceUpdate, fence: Lease | None = None
) -> int:
    """Send ``change`` (fenced by ``fence``'s lease when given): the rows it updated."""
    postgres = conn.dialect.name == "postgresql"
    parameters = change.parameters(postgres)
    parameters["source_id"] = source_id
    if fence is not None:
        parameters.update(fence_parameters(fence))
    result = conn.execute(_source_update(postgres, fence is not None, change.shape()), parameters)
    return int(result.rowcount)


@functools.cache
def _source_update(postgres: bool, fenced: bool, shape: tuple[bool, ...]) -> Any:
    """``UPDATE data_sources`` for one :meth:`SourceUpdate.shape`, built once (a run sends one or two,
    so SQLAlchemy neither builds nor compiles them per run); its values are parameters.

    ``fenced``: it changes the row only while the task's lease is this run's, the fence and the write
    in one statement. On PostgreSQL the lease row is locked (``FOR UPDATE``: a reclaim waits for this
    commit) in a ``FROM`` subquery that also turns off the WAL flush wait for this transaction (a batch
    lost in a crash loses its watermark with it, so it is simply fetched again); SQLite's writers are
    serialised by ``BEGIN IMMEDIATE`` already."""
    state, data_set, imported, times, payloads = shape
    s, t = data_sources.c, sync_tasks.c
    values: dict[str, Any] = {}
    if state:
        values["sync_state"] = _merged_state(postgres)
    if data_set:
        values["data_set_id"] = bindparam("new_data_set_id")
    if imported:
        values["last_import_time"] = values["modified_time"] = bindparam("imported")
    if times:
        # SQLite's two-argument min/max are scalar; PostgreSQL spells them least/greatest.
        low, high = (func.least, func.greatest) if postgres else (func.min, func.max)
        first, last = bindparam("first_time", type_=BigInteger), bindparam("last_time", type_=BigInteger)
        values["earliest_data_time"] = low(func.coalesce(s.earliest_data_time, first), first)
        values["latest_data_time"] = high(func.coalesce(s.latest_data_time, last), last)
    statement = update(data_sources).where(s.id == bindparam("source_id"))
    statement = statement.values(**(values or {"modified_time": s.modified_time}))
    if fenced:
        if postgres:
            fence = (
                select(
                    t.data_source_id, func.set_config("synchronous_commit", "off", True).label("commit_mode")
                )
                .where(HELD)
                .with_for_update()
                .subquery("fence")
            )
            statement = statement.where(fence.c.data_source_id == s.id)
        else:
            statement = statement.where(exists().where(HELD))
    if payloads:
        statement = statement.add_cte(_PAYLOADS.cte("payloads"))
    return statement


def _merged_state(postgres: bool) -> Any:
    """``data_sources.sync_state`` with a patch's keys set and its ``streams`` merged key by key into
    the stored ones (a batch sets only the watermarks it earned; nothing else is rewritten)."""
    state = data_sources.c.sync_state
    if postgres:
        streams = func.coalesce(state.op("->")("streams"), literal({}, JSONB)).op("||")(
            bindparam("state_streams", type_=JSONB)
        )
        merged = func.jsonb_build_object(literal_column("'streams'"), streams)
        top = bindparam("state_top", type_=JSONB)
        return func.coalesce(state, literal({}, JSONB)).op("||")(top).op("||")(merged)
    return func.json_patch(func.coalesce(state, "{}"), bindparam("state_patch", type_=String))


def _state_only(source: SourceView, batches: list[Batch]) -> bool:
    """Whether every batch is an empty answer (or carries state only). Such batches write nothing now:
    their watermarks join the source's state, saved with the run's outcome, and a run that dies before
    then asks for the windows again."""
    if not all(_empty(batch) for batch in batches):
        return False
    for batch in batches:
        source.sync_state.streams.update(batch.state)
    return True


def _parse(result: MappingResult) -> tuple[list[Datum], list[Problem]]:
    """Validate and normalize the mapped datums; invalid ones become skipped problems."""
    problems = list(result.problems)
    if not result.datums:
        return [], problems
    try:
        parsed = parse_data(result.datums)
        if parsed.ok:
            return parsed.datums, problems
    except Exception:  # a datum the model chokes on: found one by one below
        pass
    datums: list[Datum] = []
    for raw in result.datums:
        origin = raw.get("origin") if isinstance(raw, dict) else None
        rid = origin.get("id") if isinstance(origin, dict) else None
        try:
            one = parse_data([raw])
        except Exception as error:
            problems.append(Problem(str(raw.get("type")), rid, f"not a valid datum ({type(error).__name__})"))
            continue
        if one.ok:
            datums.extend(one.datums)
            continue
        reason = "; ".join(f"{err.pointer}: {err.detail}" for err in one.errors[:3])
        problems.append(Problem(str(raw.get("type")), rid, f"not a valid datum: {reason}"))
    return datums, problems


def _comparable(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _DOC_STORAGE_KEYS}


def _changed(current: Mapping[str, Any], datums: list[Datum]) -> list[Datum]:
    """The datums that are new or differ from the current version stored under their origin id
    (``current``: rows with their ``doc``, from ``storage.current_by_origin``)."""
    if not current:
        return datums
    fresh = []
    for datum in datums:
        origin = datum.doc.get("origin")
        row = current.get(str(origin.get("id"))) if isinstance(origin, dict) else None
        if row is not None:
            doc = row.doc
            stored = orjson.loads(doc) if isinstance(doc, str | bytes) else doc
            if _comparable(stored) == _comparable(datum.doc):
                continue
        fresh.append(datum)
    return fresh


def _tombstone(conn: Connection, data_set_id: str, user_id: str, origin_ids: list[str], now: int) -> int:
    d = device_data.c
    selected = and_(
        d.user_id == user_id,
        d.data_set_id == data_set_id,
        d.origin_id.in_(origin_ids),
        d.archived_time.is_(None),
        d.deleted_time.is_(None),
    )
    earliest = summaries.earliest_in(conn, selected, now)  # the person's summaries go outdated with it
    result = conn.execute(
        update(device_data).where(selected).values(active=False, deleted_time=now, modified_time=now)
    )
    summaries.mark_outdated(conn, user_id, earliest, summaries.DATA_DELETED, now)
    return int(result.rowcount or 0)


def tell_people(
    conn: Connection, services: Services, partner: Partner, user_id: str, error: dict[str, Any]
) -> list[int]:
    """Write, in ``conn``'s transaction (the one deciding the error), one email per address (the
    person, their clinics) saying the connection stopped and how to fix it; the caller delivers the
    returned outbox ids after its commit (``notifier.deliver``), never inside the transaction."""
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
    ids: list[int] = []
    for address in services.contacts(conn, user_id):
        try:
            ids.append(services.notifier.record(conn, address, subject, body, link).id)
        except ValueError:
            log.warning("an address cannot be emailed", extra={"partner": partner.slug, "user": user_id})
    return ids
