"""The login throttle lives in the database: two server processes on one database share it, so failed
logins on one lock the account-and-address pair out on the other."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import basic

STARTED = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def start_server(db_url: str, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    """``uvicorn --factory inlet.app:create_app`` on a free port (port 0), logging to ``log``."""
    env = {
        **os.environ,
        "INLET_DATABASE_URL": db_url,
        "INLET_DATA_DIR": str(data_dir),
        "INLET_PASSWORD_HASHING": "fast-insecure-for-tests",
    }
    env.pop("INLET_SERVICE_SECRET", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "inlet.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return process


def wait_for_port(process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> str:
    """The server's base URL, read from the port uvicorn reports once it listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = STARTED.search(log.read_text(errors="replace"))
        if match:
            return f"http://127.0.0.1:{match.group(1)}"
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"server did not start:\n{log.read_text(errors='replace')}")


@pytest.fixture
def two_servers(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    processes: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    try:
        for log in logs:
            processes.append(start_server(db_url, tmp_path, log))
        yield wait_for_port(processes[0], logs[0]), wait_for_port(processes[1], logs[1])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_failures_on_one_process_lock_out_on_the_other(two_servers: tuple[str, str]) -> None:
    a, b = two_servers
    assert a != b
    with httpx.Client(timeout=10) as http:
        signup = http.post(
            f"{a}/auth/user", json={"username": "pat@example.org", "password": "correct-horse"}
        )
        assert signup.status_code == 201, signup.text
        assert (
            http.post(f"{b}/auth/login", headers=basic("pat@example.org", "correct-horse")).status_code == 200
        )

        for server in (a, a, a, b, a):  # five failures, counted together however they are spread
            assert (
                http.post(f"{server}/auth/login", headers=basic("pat@example.org", "wrong")).status_code
                == 401
            )
        for server in (b, a):
            locked = http.post(f"{server}/auth/login", headers=basic("pat@example.org", "correct-horse"))
            assert locked.status_code == 429, server
            assert int(locked.headers["Retry-After"]) > 0
            assert locked.json()["errors"][0]["code"] == "too-many-requests"
