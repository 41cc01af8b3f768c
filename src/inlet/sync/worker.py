"""The sync worker: claims due tasks by lease and runs them, ``concurrency`` at a time (asyncio).

What a run *does* is the pluggable ``run_task`` coroutine (the partner sync runner,
:class:`inlet.sync.runner.SyncRunner`); the worker owns everything around it: claiming, the lease
heartbeat, blackout windows at start, scheduling the next run by the partner's policy (stretched for
the partner's budget), backoff after failures, parking a task whose source needs a reconnect, and
fenced completion.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from inlet.model.timeutil import from_micros, to_micros
from inlet.partners.contract import Partner
from inlet.partners.registry import PartnerRegistry
from inlet.partners.states import PARKED  # a task waiting for a reconnect (connect makes it due)
from inlet.sync import leases
from inlet.sync.leases import DbClock, Lease
from inlet.sync.policy import (
    BACKOFF_CAP,
    DEFAULT_CALLS_PER_RUN,
    after_budget,
    backoff_delay,
    effective_interval,
    in_blackout,
    leave_blackouts,
    next_run_time,
)

log = logging.getLogger("inlet.sync")
Outcome = Literal["success", "failure", "skipped"]
UNKNOWN_PARTNER_RETRY = timedelta(hours=1)
POPULATION_TTL_SECONDS = 60.0
CALLS_WEIGHT = 0.05  # each run's weight in the calls-per-run estimate
# Failures of Inlet itself (or its database) back off at most an hour: nothing to wait out at a partner.
INTERNAL_BACKOFF_CAP = timedelta(hours=1)
SHORT_BACKOFF = frozenset({"internal", "database-unavailable"})


def where(exc: BaseException) -> str:
    """``file.py:line`` where ``exc`` was raised: enough to find a bug, with no value in it."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    return f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"


@dataclass(frozen=True)
class RunResult:
    """What a run reports. ``next_run_time`` overrides the policy's choice (a partner's Retry-After,
    or a run that ran out of time and should resume soon); it is still moved out of blackouts.
    ``park``: the source needs the person to reconnect; the task is not run again until then.
    ``calls``: the partner requests the run made (the worker's demand estimate for the budget).
    ``on_complete``: the run's own last writes, done in the completion's transaction (one commit
    fewer per run), only while the lease is still this worker's. When it raises
    :class:`WritesRefused` the completion is rolled back (the lease stays this worker's) and
    ``recover`` is asked, outside any transaction, for the result to complete with instead (the run
    stores what it can its own way)."""

    outcome: Outcome
    error: dict[str, Any] | None = None
    next_run_time: datetime | None = None
    park: bool = False
    calls: int | None = None
    on_complete: Callable[[Any], None] | None = field(default=None, repr=False)
    recover: Callable[[], RunResult] | None = field(default=None, repr=False)


class WritesRefused(Exception):
    """A run's ``on_complete`` writes were refused by the database (not the database failing): the
    completion's transaction cannot commit them, see :attr:`RunResult.recover`."""


@dataclass
class TaskRun:
    """One claimed task as ``run_task`` sees it. Long runs call :meth:`renew` between steps: ``False``
    means the lease was lost (another worker holds the task now) and the run must stop writing."""

    lease: Lease
    partner: Partner
    started: datetime  # the database's time when the task was claimed
    engine: Engine
    _worker: Worker = field(repr=False)
    # What the worker's ``prepare`` read for this task in the claim's transaction (None: nothing).
    prepared: Any = field(default=None, repr=False)
    # Set when the heartbeat finds the lease lost: the run's thread checks it before every partner
    # call (cancelling the asyncio future alone would leave the thread calling the partner).
    lost: threading.Event = field(default_factory=threading.Event, repr=False)
    # Set by :meth:`complete`: (the result completed with, whether the lease held, the next run).
    completion: tuple[RunResult, bool, int] | None = field(default=None, repr=False)

    def complete(self, result: RunResult) -> RunResult:
        """Complete the run from the run's own thread (the worker then only counts it): one hop
        through the event loop and a thread pool fewer per run than handing the result back first."""
        completed, next_run = self._worker.complete_now(self.lease, self.partner, result)
        self.completion = (result, completed, next_run)
        return result

    async def renew(self) -> bool:
        renewed = await self._worker.renew(self.lease)
        if renewed is None:
            return False
        self.lease = renewed
        return True


RunTask = Callable[[TaskRun], Awaitable[RunResult]]
# Reads, in the claim's transaction, what the claimed tasks' runs will need (one query for the
# batch instead of one per run): task id -> what its TaskRun.prepared carries.
Prepare = Callable[[Any, list[Lease]], Mapping[str, Any]]


async def reschedule_only(run: TaskRun) -> RunResult:
    """A run that fetches nothing and reports ``skipped`` (the worker's own tests use it: only the
    schedule moves on by the partner's policy)."""
    return RunResult("skipped")


@dataclass
class WorkerStats:
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    lost: int = 0  # completions refused: the lease had been reclaimed by another worker

    def summary(self) -> str:
        return (
            f"ran {self.claimed} task(s): {self.succeeded} succeeded, {self.failed} failed, "
            f"{self.skipped} skipped, {self.lost} lost their lease"
        )


def default_owner() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


DATABASE_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError)  # the database itself is unreachable


class Worker:
    """Claims due sync tasks and runs ``run_task`` on each, at most ``concurrency`` at once.

    ``clock`` reads the database's time (:func:`inlet.sync.leases.db_now`); tests inject one, and
    ``rng`` (the policy's randomness)."""

    def __init__(
        self,
        engine: Engine,
        registry: PartnerRegistry,
        run_task: RunTask = reschedule_only,
        *,
        concurrency: int = 4,
        lease_seconds: float = 300.0,
        owner: str | None = None,
        rng: random.Random | None = None,
        clock: DbClock = leases.db_now,
        calls_per_run: float = DEFAULT_CALLS_PER_RUN,
        poll_seconds: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        prepare: Prepare | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.engine = engine
        self.registry = registry
        self.run_task = run_task
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.owner = owner or default_owner()
        self.rng = rng or random.Random()
        self.clock = clock
        self.calls_per_run = calls_per_run
        self.poll_seconds = poll_seconds
        self.claim_batch = max(1, concurrency // 4)
        self.sleep = sleep  # the heartbeat's timer (tests inject one instead of waiting)
        self.prepare = prepare
        self.stats = WorkerStats()
        self.last_completed: datetime | None = None  # when this worker last completed a run (GET /status)
        self._counts: dict[str, tuple[int, float]] = {}  # slug -> (task count, valid until monotonic)
        self._calls: dict[str, float] = {}  # slug -> mean partner requests per run (observed)
        self._lock = threading.Lock()
        self.closers: list[Callable[[], None]] = []  # what close() releases (the runner's HTTP pool)

    def close(self) -> None:
        for closer in self.closers:
            closer()

    # ---- database steps (each its own short transaction, off the event loop) ---------------------

    def _claim(
        self, limit: int, due_by: int | None, exclude: set[str]
    ) -> tuple[int, list[Lease], Mapping[str, Any]]:
        """Claim due tasks (and read what their runs need, ``prepare``) in one transaction."""
        with self.engine.begin() as conn:
            now = self.clock(conn)
            claimed = leases.claim_due(
                conn,
                self.owner,
                limit=limit,
                lease_seconds=self.lease_seconds,
                now=now,
                due_by=due_by,
                exclude=exclude,
            )
            prepared = self.prepare(conn, claimed) if self.prepare is not None and claimed else {}
        return now, claimed, prepared

    def _renew(self, lease: Lease) -> Lease | None:
        with self.engine.begin() as conn:
            return leases.renew(conn, lease, lease_seconds=self.lease_seconds, now=self.clock(conn))

    def complete_now(self, lease: Lease, partner: Partner | None, result: RunResult) -> tuple[bool, int]:
        """:meth:`_complete`, the database being unavailable included: the run's outcome is then not
        recorded, its lease expires and the task is claimed again."""
        try:
            return self._complete(lease, partner, result)
        except DATABASE_DOWN as failure:
            log.warning(
                "sync task %s: the database is unavailable; not completed (%s)",
                lease.task_id,
                type(failure).__name__,
            )
            return False, lease.next_run_time

    def _complete(self, lease: Lease, partner: Partner | None, result: RunResult) -> tuple[bool, int]:
        """Schedule the next run and release the lease (fenced): whether it held, and the next run."""
        if partner is not None and result.calls is not None:
            self._observe_calls(partner.slug, result.calls)
        try:
            return self._complete_once(lease, partner, result)
        except WritesRefused:
            if result.recover is None:
                raise
            return self._complete_once(lease, partner, result.recover())

    def _complete_once(self, lease: Lease, partner: Partner | None, result: RunResult) -> tuple[bool, int]:
        with self.engine.begin() as conn:
            now_us = self.clock(conn)
            now = from_micros(now_us)
            interval: dict[str, float] | None = None
            if result.park:
                next_run = PARKED
            else:
                when, interval = self._schedule(conn, lease, partner, result, now)
                next_run = to_micros(when)
            completed = leases.complete(
                conn,
                lease,
                effective_interval=interval,
                next_run_time=next_run,
                outcome=result.outcome,
                error=result.error,
                now=now_us,
            )
            if completed and result.on_complete is not None:
                result.on_complete(conn)
            return completed, next_run

    def _observe_calls(self, slug: str, calls: int) -> None:
        """The partner's requests per run, as an exponentially weighted mean of what runs report: the
        demand the interval stretch plans the budget with (Dexcom: 1 with nothing new, 3-4 with)."""
        with self._lock:
            previous = self._calls.get(slug, self.calls_per_run)
            self._calls[slug] = previous + CALLS_WEIGHT * (calls - previous)

    def calls_per_run_of(self, slug: str) -> float:
        with self._lock:
            return max(1.0, self._calls.get(slug, self.calls_per_run))

    def _schedule(
        self, conn: Any, lease: Lease, partner: Partner | None, result: RunResult, now: datetime
    ) -> tuple[datetime, dict[str, float] | None]:
        """When the task runs next, and the effective interval when the policy chose it."""
        if partner is None:
            return now + UNKNOWN_PARTNER_RETRY, None
        policy = partner.policy
        if result.next_run_time is not None and (result.error or {}).get("code") == "budget-exhausted":
            # spread over the renewed hour, not all at its top (docs/scaling.md, the simulation)
            interval = effective_interval(
                policy, self._population(conn, partner.slug), self.calls_per_run_of(partner.slug)
            )
            return after_budget(result.next_run_time, interval, policy, self.rng), None
        if result.next_run_time is not None:
            when = result.next_run_time
        elif result.outcome == "failure":
            code = (result.error or {}).get("code")
            cap = INTERNAL_BACKOFF_CAP if code in SHORT_BACKOFF else BACKOFF_CAP
            when = now + backoff_delay(lease.failure_count + 1, self.rng, cap=cap)
        else:
            interval = effective_interval(
                policy, self._population(conn, partner.slug), self.calls_per_run_of(partner.slug)
            )
            shown = {
                "minMinutes": round(interval.min_minutes, 2),
                "maxMinutes": round(interval.max_minutes, 2),
            }
            return next_run_time(now, policy, self.rng, interval), shown
        return leave_blackouts(when, policy.blackouts, self.rng), None

    def _population(self, conn: Any, slug: str) -> int:
        """The partner's task count, re-counted at most once a minute per worker: the interval
        stretch needs its size, not its last unit, and a count per completion would cost a scan."""
        now = time.monotonic()
        cached = self._counts.get(slug)
        if cached is not None and cached[1] > now:
            return cached[0]
        count = leases.count_tasks(conn, slug)
        self._counts[slug] = (count, now + POPULATION_TTL_SECONDS)
        return count

    # ---- running -----------------------------------------------------------------------------------

    async def renew(self, lease: Lease) -> Lease | None:
        return await asyncio.to_thread(self._renew, lease)

    async def _heartbeat(self, run: TaskRun, work: asyncio.Future[RunResult], lost: asyncio.Event) -> None:
        """Renew the lease every third of its length; cancel the run when the lease is lost. A renewal
        that fails (the database unreachable) is logged and retried at the next beat; once the lease
        has surely expired without one, the run is stopped as if it were lost."""
        renewed_at = time.monotonic()
        while True:
            await self.sleep(self.lease_seconds / 3)
            try:
                held = await run.renew()
            except Exception as exc:
                log.warning(
                    "sync task %s: the lease could not be renewed (%s)", run.lease.task_id, type(exc).__name__
                )
                if time.monotonic() - renewed_at < self.lease_seconds:
                    continue
                held = False
            else:
                renewed_at = time.monotonic()
            if not held:
                log.warning("sync task %s: lease lost during the run; stopping it", run.lease.task_id)
                run.lost.set()
                lost.set()
                work.cancel()
                return

    async def _run_one(
        self,
        lease: Lease,
        claimed_at: int,
        due_by: int | None = None,
        exclude: set[str] | None = None,
        prepared: Any = None,
    ) -> None:
        partner = self.registry.get(lease.provider_name)
        started = from_micros(claimed_at)
        if exclude is not None:
            exclude.add(lease.task_id)  # before completion frees it, so no other slot reclaims it
        run: TaskRun | None = None
        if partner is None:
            error = {"code": "unknown-partner", "detail": f"no partner {lease.provider_name!r} is configured"}
            result = RunResult("failure", error=error)
        elif in_blackout(started, partner.policy.blackouts):
            result = RunResult("skipped")  # never start inside a window: _schedule moves it past the end
        else:
            run = TaskRun(lease, partner, started, self.engine, self, prepared=prepared)
            result = await self._execute(run)
        if run is not None and run.completion is not None and run.completion[0] is result:
            _, completed, next_run = run.completion  # completed by the run's thread (TaskRun.complete)
        else:
            completed, next_run = await asyncio.to_thread(self.complete_now, lease, partner, result)
        if exclude is not None and (due_by is None or next_run > due_by):
            exclude.discard(lease.task_id)  # rescheduled past the pass: the exclusion list stays small
        stats = self.stats
        self.last_completed = datetime.now(UTC)
        if not completed:
            stats.lost += 1
            log.warning("sync task %s: completion refused, the lease was reclaimed", lease.task_id)
        elif result.outcome == "success":
            stats.succeeded += 1
        elif result.outcome == "failure":
            stats.failed += 1
        else:
            stats.skipped += 1
        log.info(
            "sync task completed",
            extra={
                "task": lease.task_id,
                "partner": lease.provider_name,
                "outcome": result.outcome,
                "completed": completed,
            },
        )

    async def _execute(self, run: TaskRun) -> RunResult:
        work = asyncio.ensure_future(self.run_task(run))
        lost = asyncio.Event()
        heartbeat = asyncio.ensure_future(self._heartbeat(run, work, lost))
        try:
            result = await work
        except asyncio.CancelledError:
            if not lost.is_set():
                raise
            result = RunResult(
                "failure", error={"code": "lease-lost", "detail": "the lease was lost mid-run"}
            )
        except Exception as exc:  # a bug in a runner must not kill the worker
            # the class and where, never the message (a database error quotes its parameters)
            log.error(
                "sync task %s: the run raised %s at %s", run.lease.task_id, type(exc).__name__, where(exc)
            )
            result = RunResult("failure", error={"code": "internal", "detail": type(exc).__name__})
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        return result

    async def _drain(self, due_by: int | None, exclude: set[str] | None, stop: asyncio.Event | None) -> None:
        """Claim and run due tasks until none is due by ``due_by``.

        A pass (``run_once``) runs each task at most once without a growing exclusion list: a finished
        task is rescheduled after the cutoff, a running one is leased, so neither is claimable. Only a
        task that asks to run again at once (next run <= the cutoff) joins ``exclude`` (rare), which
        keeps every claim query O(1) in the number of tasks run so far."""
        running: set[asyncio.Task[None]] = set()
        try:
            while stop is None or not stop.is_set():
                free = self.concurrency - len(running)
                claimed: list[Lease] = []
                # Claim in batches: wait for a quarter of the slots to be free (one claim serves
                # them all) unless nothing runs; a claim per finished run would cost a transaction.
                if free > 0 and (not running or free >= self.claim_batch):
                    now, claimed, prepared = await asyncio.to_thread(
                        self._claim, free, due_by, set(exclude or ())
                    )
                    self.stats.claimed += len(claimed)
                    for lease in claimed:
                        run = self._run_one(lease, now, due_by, exclude, prepared.get(lease.task_id))
                        running.add(asyncio.ensure_future(run))
                if not running:
                    return
                timeout = None if exclude is not None else self.poll_seconds
                _, running = await asyncio.wait(running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def run_once(self) -> WorkerStats:
        """Run every task due now exactly once (tasks falling due meanwhile wait for the next pass)."""
        cutoff = await asyncio.to_thread(self._now)
        await self._drain(cutoff, set(), None)
        return self.stats

    async def run_forever(self, stop: asyncio.Event) -> WorkerStats:
        """Run due tasks until ``stop`` is set, polling every ``poll_seconds`` when idle. The database
        going away (a restart) does not end the loop: it says so and claims again at the next poll;
        the runs in flight finish or lose their leases, which expire and are claimed again."""
        log.info("sync worker %s started (concurrency %d)", self.owner, self.concurrency)
        while not stop.is_set():
            try:
                await self._drain(None, None, stop)
            except DATABASE_DOWN as failure:
                log.warning("sync worker: the database is unavailable (%s); retrying", type(failure).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)
        return self.stats

    def _now(self) -> int:
        with self.engine.connect() as conn:
            return self.clock(conn)
