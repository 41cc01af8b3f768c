"""The console script: ``inlet db upgrade`` and ``inlet serve`` as an operator runs them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import Engine, insert, inspect, select

from inlet.db.engine import create_db_engine
from inlet.db.schema import data_sources, sync_tasks
from inlet.partners.states import PARKED

INLET = [sys.executable, "-m", "inlet.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    env.update({"INLET_DATA_DIR": str(tmp_path / "state"), **extra})
    return env


def test_db_upgrade_creates_the_schema_in_the_data_dir(tmp_path: Path) -> None:
    result = subprocess.run(
        [*INLET, "db", "upgrade"], env=_env(tmp_path), capture_output=True, text=True, check=True
    )
    assert "schema at head" in result.stdout
    database = tmp_path / "state" / "inlet.db"
    assert database.exists()
    engine = create_db_engine(f"sqlite:///{database}")
    assert {"data_sets", "device_data", "users"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def _serve(tmp_path: Path, *options: str, **env: str) -> tuple[subprocess.Popen[str], int]:
    process, port, _ = _serve_saying(tmp_path, *options, **env)
    return process, port


def _serve_saying(tmp_path: Path, *options: str, **env: str) -> tuple[subprocess.Popen[str], int, str]:
    """``inlet serve`` on a free port: the process, its port and what it printed until it listened."""
    process = subprocess.Popen(
        [*INLET, "serve", "--host", "127.0.0.1", "--port", "0", *options],
        env=_env(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    port = None
    said = ""
    deadline = time.monotonic() + 30
    while port is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        said += line
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if match:
            port = int(match.group(1))
    if port is None:
        _stop(process)
        raise AssertionError("the server never said where it listens")
    return process, port, said


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=15)
    if process.stdout:
        process.stdout.close()


def test_serve_answers_on_loopback(tmp_path: Path) -> None:
    process, port = _serve(tmp_path)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/v1/time", timeout=5)
        assert response.status_code == 200
        assert response.json()["data"]["time"].endswith("Z")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert metrics.status_code == 404  # no INLET_METRICS_TOKEN: no metrics on the API port
    finally:
        _stop(process)


def test_serve_metrics_on_their_own_loopback_port_and_with_the_token(tmp_path: Path) -> None:
    process, port, said = _serve_saying(tmp_path, "--metrics-port", "0", INLET_METRICS_TOKEN="scrape-me-0123")
    try:
        match = re.search(r"metrics on 127\.0\.0\.1 port (\d+)", said)
        assert match, said
        separate = httpx.get(f"http://127.0.0.1:{match.group(1)}/metrics", timeout=5)
        assert separate.status_code == 200  # no token on the loopback port
        assert "inlet_sync_queue_lag_seconds" in separate.text
        api = f"http://127.0.0.1:{port}/metrics"
        assert httpx.get(api, timeout=5).status_code == 401
        scraped = httpx.get(api, headers={"Authorization": "Bearer scrape-me-0123"}, timeout=5)
        assert scraped.status_code == 200
        assert "inlet_sync_queue_lag_seconds" in scraped.text
    finally:
        _stop(process)


def _due_task(tmp_path: Path) -> tuple[Engine, str]:
    """A data source without a session and its due sync task: a worker parks it at once."""
    subprocess.run([*INLET, "db", "upgrade"], env=_env(tmp_path), capture_output=True, check=True)
    engine = create_db_engine(f"sqlite:///{tmp_path / 'state' / 'inlet.db'}")
    with engine.begin() as conn:
        conn.execute(
            insert(data_sources).values(
                id="s" * 32,
                user_id="u" * 10,
                provider_type="oauth",
                provider_name="dexcom",
                state="disconnected",
                created_time=0,
                revision=0,
            )
        )
        conn.execute(
            insert(sync_tasks).values(
                id="t" * 32,
                data_source_id="s" * 32,
                user_id="u" * 10,
                provider_name="dexcom",
                next_run_time=0,
                lease_generation=0,
                failure_count=0,
                created_time=0,
            )
        )
    return engine, "t" * 32


def _next_run(engine: Engine, task_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(sync_tasks.c.next_run_time).where(sync_tasks.c.id == task_id)).scalar_one()
        )


def test_serve_syncs_only_with_worker(tmp_path: Path) -> None:
    engine, task_id = _due_task(tmp_path)
    try:
        process, port = _serve(tmp_path)
        try:
            assert httpx.get(f"http://127.0.0.1:{port}/v1/time", timeout=5).status_code == 200
            time.sleep(1.0)
            assert _next_run(engine, task_id) == 0, "without --worker the server never syncs"
        finally:
            _stop(process)
        process, _ = _serve(tmp_path, "--worker")
        try:
            deadline = time.monotonic() + 20
            while _next_run(engine, task_id) == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _next_run(engine, task_id) == PARKED, "the in-process worker ran the task (and parked it)"
        finally:
            _stop(process)
    finally:
        engine.dispose()
