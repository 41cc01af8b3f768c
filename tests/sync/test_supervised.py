"""Issue 12: the worker inside ``inlet serve --worker`` (and ``inlet demo``) is supervised: a crash is
logged with its class and the loop restarts with backoff; ``GET /status`` shows whether this process's
worker runs and when it last completed a run (no secrets, nothing about anyone)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection

from inlet.sync.leases import db_now
from tests.live import start_live_server
from tests.sync.conftest import seed_tasks


def test_a_crashing_worker_restarts_and_status_shows_it(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    calls = [0]

    def flaky_clock(conn: Connection) -> int:
        calls[0] += 1
        if calls[0] <= 2:  # the worker loop's first two claims fail: a crash each time
            raise RuntimeError("the database clock is broken")
        return db_now(conn)

    server = start_live_server(tmp_path, db_url, worker_options={"poll_seconds": 0.05, "clock": flaky_clock})
    try:
        seed_tasks(server.services.engine, 1)
        deadline = time.monotonic() + 20
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = httpx.get(f"{server.url}/status", timeout=5).json()
            if body["worker"]["lastCompletedRun"] is not None:
                break
            time.sleep(0.2)
        worker = body["worker"]
        assert worker["enabled"] is True
        assert worker["running"] is True
        assert worker["lastCompletedRun"] is not None  # it came back and ran the task
        assert worker["restarts"] == 2
        assert worker["lastCrash"] == "RuntimeError"
        assert body["database"] == {"ok": True}
        crashes = [r.getMessage() for r in caplog.records if "sync worker crashed" in r.getMessage()]
        assert len(crashes) == 2
        assert all("RuntimeError" in message for message in crashes)
        assert not any("broken" in message for message in crashes)  # the class, not the message
    finally:
        server.stop()


def test_status_without_a_worker_says_so(db_url: str, tmp_path: Path) -> None:
    server = start_live_server(tmp_path, db_url)
    try:
        response = httpx.get(f"{server.url}/status", timeout=5)
        assert response.status_code == 200
        body = response.json()
        assert body["worker"]["enabled"] is False
        assert body["worker"]["running"] is False
        assert body["database"] == {"ok": True}
    finally:
        server.stop()
