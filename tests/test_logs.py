"""The structured log format: JSON lines with the record's fields, secrets masked."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from inlet.logs import configure_logging, redact


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


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('127.0.0.1:1 - "GET /v1/oauth/dexcom/authorize?restricted_token=RT-1 HTTP/1.1" 307', "RT-1"),
        ('"GET /v1/oauth/acme/redirect?code=CODE-1&state=n.sig HTTP/1.1" 303', "CODE-1"),
        ('"GET /v1/oauth/acme/redirect?code=CODE-1&state=NONCE.sig HTTP/1.1" 303', "NONCE"),
        ("grant_type=authorization_code&code=CODE-2&code_verifier=VERIFIER-2", "VERIFIER-2"),
        ("/x?token=T-1&secret=S-1", "S-1"),
        ("/x?api-secret=AS-1&password=P-1", "AS-1"),
        ("/x?password=P-1", "P-1"),
        ("{'authorization': 'Bearer BT-1', 'x-tidepool-session-token': 'ST-1'}", "BT-1"),
        ("{'authorization': 'Bearer BT-1', 'x-tidepool-session-token': 'ST-1'}", "ST-1"),
        ('{"password": "P \\"2\\"", "username": "pat@example.org"}', "P \\"),
        ("[(b'cookie', b'inlet_session=C-1; inlet_oauth=C-2')]", "C-2"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
        ("Cookie: inlet_session=C-3", "C-3"),
        ("X-Tidepool-Service-Secret: SVC-1", "SVC-1"),
        ("httpx: 401 for Bearer abcdefgh12345", "abcdefgh12345"),
        ("smtp://mailer:pw-1@relay:587 postgresql://u:pw-2@db/inlet", "pw-2"),
        ("password='P-3'", "P-3"),
    ],
)
def test_redact_masks_credential_values(line: str, secret: str) -> None:
    masked = redact(line)
    assert secret not in masked
    assert "[masked]" in masked


def test_redact_leaves_ordinary_lines_alone() -> None:
    for line in (
        "sync run task=t1 outcome=success calls=2",
        "partner dexcom: connected user 0123456789 (data source abc)",
        "secrets: none here; the time is 12:30",
        '127.0.0.1:1 - "GET /v1/time HTTP/1.1" 200',
        "error_code=5 decode=1",
    ):
        assert redact(line) == line


def test_every_rendered_line_is_redacted(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Foreign loggers too (uvicorn's access log is one), in both formats, whatever the arguments."""
    for fmt in ("console", "json"):
        configure_logging("INFO", fmt)
        logging.getLogger("tests.foreign.access").info(  # uvicorn.access's own format and arguments
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5",
            "GET",
            "/v1/oauth/x/authorize?restricted_token=RT-9",
            "1.1",
            307,
        )
        try:
            raise ValueError("refused Bearer abcdefgh98765")
        except ValueError:
            logging.getLogger("some.library").exception("failed with password=P-9")
        err = capsys.readouterr().err
        for secret in ("RT-9", "abcdefgh98765", "P-9"):
            assert secret not in err, (fmt, secret)
        assert "restricted_token=[masked]" in err
        if fmt == "json":
            for line in err.strip().splitlines():
                json.loads(line)  # still valid JSON lines


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
