"""The bounded chaos run (about a minute) of issue 12, on PostgreSQL: see ``tests/chaos/run.py``.

The 30-minute run is ``python -m tests.chaos --minutes 30`` (figures in docs/reliability.md). With
``INLET_TEST_PG_RESTART=1`` this run also restarts PostgreSQL once (never by default: other test runs
share the server)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.chaos.run import run_chaos


def test_chaos_bounded(pg_url: str, tmp_path: Path) -> None:
    report = run_chaos(
        pg_url,
        tmp_path,
        minutes=0.75,
        people=12,
        factor=1440.0,
        pg_restart=os.environ.get("INLET_TEST_PG_RESTART") == "1",
        echo=lambda _line: None,
    )
    summary = json.dumps(report.to_json())
    assert report.ok, summary
    assert report.people_compared + len(report.in_error) == 12, summary
    assert report.records_compared > 1000, summary
    assert report.unstorable_compared > 0, summary  # stored with U+FFFD for what PostgreSQL refuses
    assert sum(report.faults.values()) >= 3, summary
    assert report.faults["worker:kill-9"] == 1, summary
