"""The live server fixture (tests/live.py) for the platform-client test, and a note in the summary when
that test could not run (the summary lists failures, not skips)."""

from __future__ import annotations

import pytest

from tests.live import live_server  # noqa: F401


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for report in terminalreporter.stats.get("skipped", []):
        if getattr(report, "nodeid", "").startswith("tests/client/"):
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            reason = reason.removeprefix("Skipped: ")
            terminalreporter.write_line(f"NOTE: the platform-client test was skipped: {reason}", yellow=True)
