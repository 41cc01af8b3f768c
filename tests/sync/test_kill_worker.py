"""``kill -9`` of a worker process mid-run: its lease expires (database time), another worker takes the
task over and finishes it, and what is stored equals the partner's records exactly, record by record:
no gap, no duplicate."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from inlet.db.schema import partner_payloads, sync_tasks
from inlet.model.timeutil import now_utc
from inlet.partners.registry import load_registry
from inlet.simulator.faults import FaultUpdate
from inlet.sync.leases import db_now
from inlet.sync.service import build_worker
from tests.partners.conftest import partner_env
from tests.sync.harness import SyncEnv, open_env, same_records

LEASE_SECONDS = 2.0
REPO = Path(__file__).resolve().parents[2]


# The run is on real time: without Dexcom's daily maintenance window, whatever hour the suite runs at.
NO_BLACKOUTS = {"INLET_PARTNER_DEXCOM_BLACKOUTS": ""}


@pytest.fixture
def live_env(db_url: str, tmp_path: Path) -> Iterator[SyncEnv]:
    """The simulators frozen at the real time (so the database's clock and the partner agree)."""
    t0 = now_utc().replace(second=0, microsecond=0)
    with open_env(db_url, tmp_path, t0, timedelta(days=3)) as env:
        env.services.partners.registry = load_registry({**partner_env(env.dexcom, env.acme), **NO_BLACKOUTS})
        yield env


def _payloads(env: SyncEnv) -> int:
    with env.services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(partner_payloads)).scalar_one())


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_killed_worker_loses_nothing_and_doubles_nothing(live_env: SyncEnv, db_url: str) -> None:
    env = live_env
    account = env.connect()
    env.dexcom.simulator.faults.update(FaultUpdate(latency_ms=400))  # every data call takes a while
    child_env = {
        **os.environ,
        **partner_env(env.dexcom, env.acme),
        **NO_BLACKOUTS,
        "INLET_DATABASE_URL": db_url,
        "INLET_DATA_DIR": str(env.inlet.data_dir),  # the same token key file
        "PYTHONPATH": str(REPO),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.sync.worker_process", str(LEASE_SECONDS)],
        cwd=REPO,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(lambda: _payloads(env) >= 1, 120, "the child's first stored batch")  # slow when loaded
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        assert child.stdout is not None
        child.stdout.close()
    task = env.task(account.user_id)
    assert task.lease_owner == "doomed-worker", "the run was killed before it completed"
    stored_before = len(env.stored(account.user_id))
    env.dexcom.simulator.faults.reset()

    # Another worker (this process, the database's clock) claims the task once the lease expires.
    def expired() -> bool:
        with env.services.engine.connect() as conn:
            row = conn.execute(select(sync_tasks.c.lease_expires_time)).scalar_one()
            return bool(row is None or row <= db_now(conn))

    _wait(expired, 10, "the dead worker's lease to expire")
    worker = build_worker(env.services, concurrency=1, owner="survivor", poll_seconds=0.05)
    stats = asyncio.run(worker.run_once())
    worker.close()
    assert stats.claimed == 1, stats.summary()
    assert stats.succeeded == 1, stats.summary()
    assert len(env.stored(account.user_id)) >= stored_before
    same_records(env.stored(account.user_id, "cbg"), env.dexcom_expected("egv"))
    same_records(env.stored(account.user_id, "deviceEvent"), env.dexcom_expected("calibration"))
    events = env.dexcom_expected("event")
    stored_events = {k: v for k, v in env.stored(account.user_id).items() if k in events}
    same_records(stored_events, events)
    assert env.source(account.user_id).state == "connected"
