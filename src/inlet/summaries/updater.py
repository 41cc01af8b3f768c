"""The summary updater: every 20-30 s, the people whose summaries went outdated first (250 at a time,
Tidepool's order and batch) get them recomputed incrementally, each in its own transaction, so a
summary is current within a minute of new data. Run by the worker processes beside housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

from sqlalchemy import Engine

from inlet.db.engine import read_only
from inlet.summaries import store

log = logging.getLogger("inlet.summaries")
BATCH = 250
EVERY_SECONDS = (20.0, 30.0)


def update_outdated(engine: Engine, now: Callable[[], int], limit: int = BATCH) -> int:
    """Recompute the most outdated summaries (oldest ``outdatedSince`` first); how many people."""
    with read_only(engine) as conn:
        users = store.outdated_users(conn, limit)
    for user_id in users:
        with engine.begin() as conn:
            store.recompute(conn, user_id, now())
    return len(users)


def update_all_outdated(engine: Engine, now: Callable[[], int], limit: int = BATCH) -> int:
    """Rounds of :func:`update_outdated` until no summary is outdated (``inlet worker --once``); how
    many recomputations. A person marked again meanwhile is taken again, so the rounds are bounded by
    the summaries that were outdated plus what arrives while they run."""
    total = 0
    while count := update_outdated(engine, now, limit):
        total += count
    return total


async def run_updater(
    engine: Engine, now: Callable[[], int], stop: asyncio.Event, every: tuple[float, float] = EVERY_SECONDS
) -> None:
    """Update outdated summaries until ``stop`` is set; a failure is logged and retried next round."""
    while not stop.is_set():
        try:
            count = await asyncio.to_thread(update_outdated, engine, now)
            if count:
                log.info("recomputed the summaries of %d person(s)", count)
        except Exception:
            log.exception("summary update failed; retrying later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=random.uniform(*every))
