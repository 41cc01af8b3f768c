"""Putting the sync engine together: the worker with the partner runner, and its housekeeping.

Used by ``inlet worker``, ``inlet serve --worker`` and ``inlet demo``. Housekeeping runs beside the
worker: the clinician connection-request reminders and the retry of queued emails, every few minutes;
and the summary updater (``inlet.summaries.updater``), every 20-30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx2

from inlet.model.timeutil import now_utc
from inlet.summaries.updater import run_updater
from inlet.sync.runner import SyncRunner
from inlet.sync.worker import Worker, default_owner

if TYPE_CHECKING:
    from inlet.services import Services

log = logging.getLogger("inlet.sync")
HOUSEKEEPING_SECONDS = 300.0


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
    )
    worker = Worker(
        services.engine,
        services.partners.registry,
        runner,
        concurrency=concurrency,
        owner=owner,
        lease_seconds=options.pop("lease_seconds", settings.sync_lease_seconds),
        poll_seconds=options.pop("poll_seconds", 5.0),
        **options,
    )
    worker.closers.append(runner.close)
    return worker


def housekeeping_once(services: Services) -> None:
    from inlet.partners.requests import send_connection_reminders

    with services.engine.begin() as conn:
        reminded = send_connection_reminders(conn, services, now_utc())
    if reminded:
        log.info("sent %d connection reminder(s)", reminded)
    if services.notifier.smtp is not None:
        services.notifier.deliver_pending(services.engine)


async def housekeeping(services: Services, stop: asyncio.Event, every: float = HOUSEKEEPING_SECONDS) -> None:
    while not stop.is_set():
        try:
            await asyncio.to_thread(housekeeping_once, services)
        except Exception:
            log.exception("housekeeping failed; retrying later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


@contextlib.asynccontextmanager
async def running_worker(
    services: Services, *, concurrency: int = 4, **options: Any
) -> AsyncIterator[Worker]:
    """Run the worker and housekeeping in the current event loop until the context exits."""
    worker = build_worker(services, concurrency=concurrency, **options)
    stop = asyncio.Event()
    tasks = [
        asyncio.ensure_future(worker.run_forever(stop)),
        asyncio.ensure_future(housekeeping(services, stop)),
        asyncio.ensure_future(run_updater(services.engine, services.data.now, stop)),
    ]
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        worker.close()
