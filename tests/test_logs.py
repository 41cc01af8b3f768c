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


def test_nightscout_secrets_in_log_text_are_masked(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """An access log line quotes the request: Nightscout's ``?secret=``, ``?token=``, the access token
    in ``/api/v2/authorization/request/<token>``, and headers quoted in a message are masked."""
    configure_logging("INFO", "console")
    access = logging.getLogger("uvicorn.access")
    # earlier tests (servers started with uvicorn's own log config) may leave it muted or detached
    saved = (access.disabled, access.propagate, access.level, access.handlers[:])
    access.disabled, access.propagate, access.handlers = False, True, []
    access.setLevel(logging.INFO)
    secret = "4f1e6a" * 6
    access.info(
        '%s - "%s %s HTTP/1.1" %d', "127.0.0.1", "GET", f"/ns/a/api/v1/entries.json?secret={secret}", 200
    )
    access.info(
        '%s - "%s %s HTTP/1.1" %d',
        "127.0.0.1",
        "GET",
        "/ns/a/api/v1/x?count=1&token=reader-0123456789abcdef",
        200,
    )
    access.info(
        '%s - "%s %s HTTP/1.1" %d',
        "127.0.0.1",
        "GET",
        "/ns/a/api/v2/authorization/request/app-fedcba9876543210",
        200,
    )
    logging.getLogger("inlet").info(
        "headers api-secret: %s Authorization: Bearer %s", secret, "eyJhbGciOi.eyJ.sig"
    )
    text = capsys.readouterr().err
    access.disabled, access.propagate, access.level, access.handlers = saved
    for value in (secret, "reader-0123456789abcdef", "app-fedcba9876543210", "eyJhbGciOi.eyJ.sig"):
        assert value not in text
    assert text.count("[masked]") >= 5
    assert "count=1" in text
    assert "/api/v2/authorization/request/[masked]" in text
