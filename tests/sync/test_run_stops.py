"""Issue 12, defect 6: a run stops at its next partner call when the partner's blackout window
begins (keeping what it stored, rescheduled after the window) or when its lease was lost (the run's
thread, not only its asyncio future)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2
from sqlalchemy import update

from inlet.db.schema import sync_tasks
from inlet.model.timeutil import to_micros
from tests.sync.harness import open_env
from tests.sync.test_dexcom_faults import Counting

# 02:44:58 in Los Angeles (PDT): two seconds before Dexcom's 02:45-03:45 window
BEFORE_WINDOW = datetime(2026, 3, 20, 9, 44, 58, tzinfo=UTC)
WINDOW_END = datetime(2026, 3, 20, 10, 45, tzinfo=UTC)


def test_a_run_stops_when_the_blackout_window_begins(db_url: str, tmp_path: Path) -> None:
    with open_env(db_url, tmp_path, t0=BEFORE_WINDOW) as env:
        account = env.connect()
        seen: list[str] = []

        def slow_range(request: httpx2.Request) -> httpx2.Response | None:
            seen.append(request.url.path.rsplit("/", 1)[-1])
            if request.url.path.endswith("/dataRange"):
                time.sleep(2.5)  # the window begins while the partner answers
            return None

        stats = env.run_once(transport=Counting(slow_range))
        assert stats.skipped == 1, stats.summary()
        assert seen == ["dataRange"], seen  # not one call inside the window
        task = env.task(account.user_id)
        assert task.next_run_time >= to_micros(WINDOW_END)
        assert task.last_error is None
        assert env.source(account.user_id).state == "connected"


def test_a_run_whose_lease_was_lost_stops_calling_the_partner(db_url: str, tmp_path: Path) -> None:
    with open_env(db_url, tmp_path) as env:
        account = env.connect()
        seen: list[str] = []

        def steal_the_lease(request: httpx2.Request) -> httpx2.Response | None:
            seen.append(request.url.path.rsplit("/", 1)[-1])
            if request.url.path.endswith("/dataRange"):
                # another worker reclaims the task (as after a long pause of this one)
                with env.services.engine.begin() as conn:
                    conn.execute(
                        update(sync_tasks)
                        .where(sync_tasks.c.user_id == account.user_id)
                        .values(
                            lease_owner="another-worker", lease_generation=sync_tasks.c.lease_generation + 1
                        )
                    )
                time.sleep(1.0)  # the heartbeat (every 0.05 s here) notices meanwhile
            return None

        async def quick(_seconds: float) -> None:
            await asyncio.sleep(0.05)

        stats = env.run_once(transport=Counting(steal_the_lease), sleep=quick)
        assert stats.claimed == 1
        assert seen == ["dataRange"], seen  # the thread made no partner call after the loss
        assert not env.stored(account.user_id)
