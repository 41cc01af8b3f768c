"""Putting the sync engine together: the worker with the partner runner, and its housekeeping.

Used by ``inlet worker``, ``inlet serve --worker`` and ``inlet demo``. Housekeeping runs beside the
worker: the clinician connection-request reminders and the retry of queued emails, every few minutes;
and the summary updater (``inlet.summaries.updater``), every 20-30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx2

from inlet.model.timeutil import format_utc, now_utc
from inlet.summaries.updater import run_updater
from inlet.sync.leases import DbClock, db_now
from inlet.sync.runner import SyncRunner
from inlet.sync.worker import Worker, default_owner, where

if TYPE_CHECKING:
    from inlet.services import Services

log = logging.getLogger("inlet.sync")
HOUSEKEEPING_SECONDS = 300.0
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 60.0


def build_worker(
    services: Services,
    *,
    concurrency: int = 4,
    transport: httpx2.BaseTransport | None = None,
    **options: Any,
) -> Worker:
    """A worker whose runs are partner syncs (:class:`SyncRunner`), configured from the settings."""
    settings = services.settings
    owner = options.pop("owner", None) or default_owner()
    runner = SyncRunner(
        services,
        owner,
        transport=transport,
        time_budget=timedelta(seconds=settings.sync_time_budget_seconds),
        raw_retention_days=settings.raw_retention_days,
        http_timeout=options.pop("http_timeout", 15.0),
        threads=concurrency + 1,
        db_clock=options.get("clock", db_now),
    )
    worker = Worker(
        services.engine,
        services.partners.registry,
        runner,
        concurrency=concurrency,
        owner=owner,
        lease_seconds=options.pop("lease_seconds", settings.sync_lease_seconds),
        poll_seconds=options.pop("poll_seconds", 5.0),
        prepare=runner.prepare,
        **options,
    )
    worker.closers.append(runner.close)
    return worker


def housekeeping_once(services: Services, clock: DbClock = db_now) -> None:
    """One round of chores. ``clock``: the database's time, as the worker's (a test's compressed
    clock judges stalls on the same time as the runs that record successes)."""
    from inlet.partners.requests import send_connection_reminders

    with services.notifier.transaction(services.engine) as conn:  # emails sent after the commit
        reminded = send_connection_reminders(conn, services, now_utc())
    if reminded:
        log.info("sent %d connection reminder(s)", reminded)
    from inlet.sync.stall import mark_stalled

    with services.engine.connect() as conn:
        now = clock(conn)
    stalled = mark_stalled(services, now)
    if stalled:
        log.warning("%d data source(s) stalled: moved to error, people told", stalled)
    if services.notifier.smtp is not None:
        services.notifier.deliver_pending(services.engine)


async def housekeeping(
    services: Services, stop: asyncio.Event, every: float = HOUSEKEEPING_SECONDS, clock: DbClock = db_now
) -> None:
    while not stop.is_set():
        try:
            await asyncio.to_thread(housekeeping_once, services, clock)
        except Exception:
            log.exception("housekeeping failed; retrying later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


@dataclass
class WorkerStatus:
    """This process's in-process worker as ``GET /status`` shows it (no secrets, no counts of people)."""

    enabled: bool = False
    running: bool = False
    restarts: int = 0
    last_crash: str | None = None  # the exception's class
    worker: Worker | None = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        last = self.worker.last_completed if self.worker is not None else None
        return {
            "enabled": self.enabled,
            "running": self.running,
            "lastCompletedRun": None if last is None else format_utc(last),
            "restarts": self.restarts,
            "lastCrash": self.last_crash,
        }


async def supervise(
    loop: Callable[[], Awaitable[Any]],
    stop: asyncio.Event,
    status: WorkerStatus,
    *,
    first_delay: float = RESTART_FIRST_SECONDS,
    max_delay: float = RESTART_MAX_SECONDS,
) -> None:
    """Run ``loop`` until ``stop``; a crash (or a return before ``stop``) is logged with its class and
    place and the loop restarts after a backoff that doubles up to ``max_delay`` (and starts over
    once a loop has run for ``max_delay``): a worker inside a server never dies silently."""
    delay = first_delay
    while not stop.is_set():
        began = time.monotonic()
        status.running = True
        try:
            await loop()
            if stop.is_set():
                break
            raise RuntimeError("the worker loop returned before it was stopped")
        except asyncio.CancelledError:
            raise
        except Exception as crash:
            status.running = False
            status.restarts += 1
            status.last_crash = type(crash).__name__
            if time.monotonic() - began >= max_delay:
                delay = first_delay
            log.error(
                "the sync worker crashed (%s at %s); restarting in %.1f s",
                type(crash).__name__,
                where(crash),
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(max_delay, delay * 2)
    status.running = False


@contextlib.asynccontextmanager
async def running_worker(
    services: Services, *, concurrency: int = 4, status: WorkerStatus | None = None, **options: Any
) -> AsyncIterator[Worker]:
    """Run the worker and housekeeping in the current event loop until the context exits, each
    supervised (:func:`supervise`); ``status`` is kept current for ``GET /status``."""
    worker = build_worker(services, concurrency=concurrency, **options)
    status = status or WorkerStatus()
    status.enabled, status.worker = True, worker
    stop = asyncio.Event()
    tasks = [
        asyncio.ensure_future(supervise(lambda: worker.run_forever(stop), stop, status)),
        asyncio.ensure_future(housekeeping(services, stop)),
        asyncio.ensure_future(run_updater(services.engine, services.data.now, stop)),
    ]
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        worker.close()
