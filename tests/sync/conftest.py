"""Helpers for the sync tests: tasks seeded directly, a fixed database clock."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from inlet.db.schema import data_sources, sync_tasks
from inlet.model.timeutil import to_micros
from tests.sync.harness import sync_env  # noqa: F401  (the fixture, for every sync test)

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # 04:00 in Los Angeles: outside Dexcom's window
US = 1_000_000


def seed_tasks(engine: Engine, count: int, *, due: datetime = T0, provider: str = "dexcom") -> list[str]:
    """``count`` connected data sources of ``provider``, each with a sync task due at ``due``."""
    ids = []
    with engine.begin() as conn:
        for _ in range(count):
            user_id, source_id, task_id = (secrets.token_hex(16) for _ in range(3))
            conn.execute(
                insert(data_sources).values(
                    id=source_id,
                    user_id=user_id,
                    provider_type="oauth",
                    provider_name=provider,
                    state="connected",
                    created_time=to_micros(due),
                    revision=1,
                )
            )
            conn.execute(
                insert(sync_tasks).values(
                    id=task_id,
                    data_source_id=source_id,
                    user_id=user_id,
                    provider_name=provider,
                    next_run_time=to_micros(due),
                    lease_generation=0,
                    failure_count=0,
                    created_time=to_micros(due),
                )
            )
            ids.append(task_id)
    return ids


def task(engine: Engine, task_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(sync_tasks).where(sync_tasks.c.id == task_id)).one()


def fixed_clock(instant: datetime) -> Callable[[Connection], int]:
    micros = to_micros(instant)
    return lambda _conn: micros
