"""The structured log format: JSON lines with the record's fields, secrets masked."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from inlet.logs import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level


def test_json_lines_carry_the_fields_and_mask_secrets(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "json")
    logging.getLogger("inlet.sync").info(
        "sync run", extra={"task": "t1", "outcome": "success", "calls": 2, "access_token": "abc"}
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    event = json.loads(line)
    assert event["event"] == "sync run"
    assert event["logger"] == "inlet.sync"
    assert event["level"] == "info"
    assert (event["task"], event["outcome"], event["calls"]) == ("t1", "success", 2)
    assert event["access_token"] == "[masked]"
    assert "abc" not in line
