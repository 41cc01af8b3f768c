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
from sqlalchemy import inspect

from inlet.db.engine import create_db_engine

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


def test_serve_answers_on_loopback(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*INLET, "serve", "--host", "127.0.0.1", "--port", "0"],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
        assert port, "the server never said where it listens"
        response = httpx.get(f"http://127.0.0.1:{port}/v1/time", timeout=5)
        assert response.status_code == 200
        assert response.json()["data"]["time"].endswith("Z")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
        if process.stdout:
            process.stdout.close()
