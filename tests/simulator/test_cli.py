"""``python -m inlet.simulator`` (what ``inlet partner-sim`` runs): the base URL comes first."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from .conftest import login_params

URL = re.compile(r"^http://127\.0\.0\.1:(\d+)$")


@contextmanager
def simulator_process(*args: str) -> Iterator[tuple[str, list[str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "inlet.simulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if len(lines) >= 5:
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not ready.wait(timeout=30):
            pytest.fail("the simulator printed nothing within 30 s")
        yield lines[0], lines
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=5)
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def test_dexcom_prints_its_url_first_and_serves_on_loopback() -> None:
    with simulator_process("dexcom", "--port", "0", "--seed", "3", "--admin-token", "cli-admin") as (
        url,
        lines,
    ):
        match = URL.match(url)
        assert match, lines
        assert int(match.group(1)) > 0
        assert "admin token: cli-admin" in lines
        assert (
            any(line.startswith("account: ") and "SandboxUser7" in line for line in lines) or len(lines) >= 5
        )
        with httpx.Client(base_url=url) as client:
            page = client.get("/v2/oauth2/login", params=login_params())
            assert page.status_code == 200
            assert "Allow" in page.text
            overview = client.get("/admin", headers={"Authorization": "Bearer cli-admin"}).json()
            assert overview["partner"] == "dexcom"
            assert overview["accounts"][0]["seed"] != 0


def test_acme_through_the_run_command() -> None:
    with simulator_process("run", "acme", "--port", "0") as (url, lines):
        assert URL.match(url), lines
        token = next(line.split(": ", 1)[1] for line in lines if line.startswith("admin token: "))
        with httpx.Client(base_url=url) as client:
            assert client.get("/admin/accounts", headers={"Authorization": f"Bearer {token}"}).json()[0][
                "username"
            ] == ("acme-user-1")
