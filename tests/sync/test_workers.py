"""Several workers on one database: no task ever runs twice at once, and the data equals the
partner's. On PostgreSQL the workers claim with ``FOR UPDATE SKIP LOCKED``; on SQLite the single
writer serialises claims (tested too, at two workers)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from inlet.sync.worker import RunResult, TaskRun
from tests.sync.harness import SyncEnv, open_env, same_records


class Overlaps:
    """Wraps each worker's runner: records who runs which task when, and any overlap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[str, str] = {}
        self.runs: list[tuple[str, str]] = []
        self.overlaps: list[str] = []

    def wrap(self, inner: Any, owner: str) -> Any:
        async def run(task: TaskRun) -> RunResult:
            with self.lock:
                if task.lease.task_id in self.running:
                    self.overlaps.append(task.lease.task_id)
                self.running[task.lease.task_id] = owner
                self.runs.append((task.lease.task_id, owner))
            try:
                await asyncio.sleep(0.01)  # widen the window in which a double run would show
                return await inner(task)
            finally:
                with self.lock:
                    self.running.pop(task.lease.task_id, None)

        return run


def test_two_workers_never_run_a_task_twice_at_once(sync_env: SyncEnv) -> None:
    """On both databases (SQLite: the single writer serialises the claims)."""
    _workers_never_overlap(sync_env, 2)


@pytest.mark.postgres
def test_four_workers_on_postgresql_never_run_a_task_twice_at_once(pg_url: str, tmp_path: Path) -> None:
    with open_env(pg_url, tmp_path) as env:
        _workers_never_overlap(env, 4)


def _workers_never_overlap(sync_env: SyncEnv, workers: int) -> None:
    accounts = [sync_env.connect() for _ in range(8)]
    overlaps = Overlaps()
    built = []
    for index in range(workers):
        worker = sync_env.worker(owner=f"worker-{index}", concurrency=3)
        worker.run_task = overlaps.wrap(worker.run_task, worker.owner)
        built.append(worker)
    errors: list[BaseException] = []

    def drive(worker: Any) -> None:
        try:
            asyncio.run(worker.run_once())
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=drive, args=(w,)) for w in built]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for worker in built:
        worker.close()
    assert not errors, errors
    assert not overlaps.overlaps
    ran = [task for task, _ in overlaps.runs]
    assert len(ran) == len(set(ran)) == len(accounts), "each due task ran exactly once"
    assert sum(w.stats.succeeded for w in built) == len(accounts)
    assert time.monotonic() - started < 120
    expected = sync_env.dexcom_expected("egv")
    for account in accounts:
        same_records(sync_env.stored(account.user_id, "cbg"), expected)
