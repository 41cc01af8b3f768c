"""``inlet worker --once`` as an operator runs it: every due task once, then exit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from inlet.db.engine import create_db_engine
from inlet.db.migrate import upgrade
from inlet.model.timeutil import now_utc, to_micros
from tests.sync.conftest import seed_tasks, task


def _worker_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment without any INLET_* setting, the state under ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    env["INLET_DATA_DIR"] = str(tmp_path / "state")
    return env


def _worker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``inlet worker ARGS`` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "inlet.cli", "worker", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_worker_once_runs_the_due_tasks_and_exits(tmp_path: Path) -> None:
    env = _worker_env(tmp_path)
    engine = create_db_engine(f"sqlite:///{tmp_path / 'state' / 'inlet.db'}")
    try:
        upgrade(engine)
        ids = seed_tasks(engine, 3, provider="acme")
        result = _worker(env, "--once", "--concurrency", "2")
        assert result.returncode == 0, result.stderr
        assert "ran 3 task(s): 0 succeeded, 0 failed, 3 skipped, 0 lost their lease" in result.stdout
        soon = to_micros(now_utc())
        for task_id in ids:
            row = task(engine, task_id)
            assert row.lease_owner is None
            assert row.lease_generation == 1
            assert row.next_run_time > soon + 29 * 60 * 1_000_000  # ACME: 30-60 minutes on
    finally:
        engine.dispose()


def test_worker_processes_share_the_due_tasks_through_leases(tmp_path: Path) -> None:
    """``--processes 2``: two worker processes, each task run by exactly one of them."""
    env = _worker_env(tmp_path)
    engine = create_db_engine(f"sqlite:///{tmp_path / 'state' / 'inlet.db'}")
    try:
        upgrade(engine)
        ids = seed_tasks(engine, 6, provider="acme")
        result = _worker(env, "--once", "--processes", "2")
        assert result.returncode == 0, result.stderr
        counts = re.findall(r"ran (\d+) task\(s\)", result.stdout)
        assert len(counts) == 2, result.stdout  # each process reports its own pass
        assert sum(int(n) for n in counts) == 6
        for task_id in ids:
            row = task(engine, task_id)
            assert row.lease_owner is None
            assert row.lease_generation == 1  # claimed once, by one process
    finally:
        engine.dispose()
