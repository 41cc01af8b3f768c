"""``inlet export --user EMAIL --format xlsx|json --out FILE [--start] [--end]`` as an operator runs it,
against the same database the API wrote (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import orjson
from fastapi.testclient import TestClient

from tests.api.test_data_sets import cbg, read, upload, user

INLET = [sys.executable, "-m", "inlet.cli"]


def _run(tmp_path: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    env.update({"INLET_DATA_DIR": str(tmp_path / "state"), "INLET_DATABASE_URL": db_url})
    return subprocess.run([*INLET, "export", *args], env=env, capture_output=True, text=True, timeout=120)


def test_export_writes_the_same_documents_as_the_api(client: TestClient, db_url: str, tmp_path: Path) -> None:
    pat = user(client, "pat")
    upload(client, pat, [cbg(m, value=100 + m) for m in range(0, 30, 5)])
    xlsx = tmp_path / "pat.xlsx"
    done = _run(tmp_path, db_url, "--user", pat.username, "--format", "xlsx", "--out", str(xlsx))
    assert done.returncode == 0, done.stderr
    assert "documents written" in done.stdout
    book = openpyxl.load_workbook(xlsx)
    assert book["cbg"].max_row == 1 + 6
    out = tmp_path / "pat.json"
    windowed = _run(
        tmp_path,
        db_url,
        *("--user", pat.username, "--format", "json", "--out", str(out)),
        *("--start", "2026-10-01T00:10:00Z", "--end", "2026-10-01T00:20:00Z", "--bg-units", "mg/dL"),
    )
    assert windowed.returncode == 0, windowed.stderr
    exported = orjson.loads(out.read_bytes())
    assert [d["value"] for d in exported] == [110, 115, 120]
    assert [d["id"] for d in exported] == [
        d["id"]
        for d in read(
            client, pat.headers, pat.user_id, startDate="2026-10-01T00:10:00Z", endDate="2026-10-01T00:20:00Z"
        )
    ]


def test_unknown_person_fails_plainly(client: TestClient, db_url: str, tmp_path: Path) -> None:
    done = _run(tmp_path, db_url, "--user", "nobody@example.org", "--out", str(tmp_path / "x.xlsx"))
    assert done.returncode == 1
    assert "no account" in done.stderr
