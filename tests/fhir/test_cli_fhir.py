"""``inlet fhir token|subscribe|push --once`` as an operator runs them (SQLite and PostgreSQL), against
the stub FHIR server: the token goes in through stdin, is stored encrypted, and is what the stub sees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tests.api.test_data_sets import cbg, upload, user

from .test_push import Stub, stub

__all__ = ["stub"]
INLET = [sys.executable, "-m", "inlet.cli", "fhir"]


def test_token_subscribe_and_push(client: TestClient, db_url: str, tmp_path: Path, stub: Stub) -> None:
    pat = user(client, "pat")
    upload(client, pat, [cbg(m) for m in range(0, 30, 5)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    env.update(
        {
            "INLET_DATA_DIR": str(tmp_path / "state"),
            "INLET_DATABASE_URL": db_url,
            "INLET_FHIR_ENDPOINTS": f"clinic={stub.url}",
        }
    )

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*INLET, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
        )

    stored = run("token", "clinic", stdin="operator-token-42\n")
    assert stored.returncode == 0, stored.stderr
    subscribed = run("subscribe", "--endpoint", "clinic", "--user", pat.username)
    assert subscribed.returncode == 0, subscribed.stderr
    pushed = run("push", "--once")
    assert pushed.returncode == 0, pushed.stderr
    assert "1 pushes: 200" in pushed.stdout
    (sent,) = stub.received
    assert sent["headers"]["Authorization"] == "Bearer operator-token-42"
    assert "operator-token-42" not in pushed.stdout + pushed.stderr
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        assert "operator-token-42" not in str(conn.execute(text("SELECT * FROM fhir_endpoint_tokens")).all())
    engine.dispose()
