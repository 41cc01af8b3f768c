"""``inlet outbox``: queued emails as JSON lines {to, subject, body, link, createdTime}."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from inlet.cli import app
from inlet.db.engine import create_db_engine
from inlet.db.migrate import upgrade
from inlet.notify import Notifier, SmtpConfig
from tests.notify.conftest import StartSmtp

T0 = datetime(2026, 3, 20, 12, 0, 0, 250000, tzinfo=UTC)
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
LINK = "http://127.0.0.1:8000/v1/oauth/dexcom/authorize?restricted_token=abc"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def state(data_dir: Path) -> Iterator[Engine]:
    """The data directory's SQLite database, migrated, holding two queued emails and one sent one."""
    engine = create_db_engine(f"sqlite:///{data_dir / 'inlet.db'}")
    upgrade(engine)
    notifier = Notifier(clock=lambda: T0)
    with engine.begin() as conn:
        notifier.record(
            conn, "pat@example.org", "Connect your Dexcom account", "Hello,\nplease connect.", LINK
        )
        notifier.record(conn, "kid@example.net", "Reminder ✓", "Still waiting.")
    try:
        yield engine
    finally:
        engine.dispose()


def _invoke(data_dir: Path, *args: str, **env: str | None) -> tuple[int, list[str], str]:
    environment: dict[str, str | None] = {
        "INLET_DATA_DIR": str(data_dir),
        "INLET_DATABASE_URL": None,
        "INLET_SMTP_URL": None,
        "INLET_MAIL_FROM": None,
        **env,
    }
    result = CliRunner().invoke(app, ["outbox", *args], env=environment)
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_outbox_prints_queued_emails_as_json_lines(data_dir: Path, state: Engine) -> None:
    code, lines, _ = _invoke(data_dir)
    assert code == 0
    docs = [json.loads(line) for line in lines]
    assert [list(doc) for doc in docs] == [["to", "subject", "body", "link", "createdTime"]] * 2
    assert docs[0] == {
        "to": "pat@example.org",
        "subject": "Connect your Dexcom account",
        "body": "Hello,\nplease connect.",
        "link": LINK,
        "createdTime": "2026-03-20T12:00:00.250Z",
    }
    assert docs[1]["subject"] == "Reminder ✓"
    assert docs[1]["link"] is None
    for doc in docs:
        assert RFC3339_UTC.fullmatch(doc["createdTime"])
        assert datetime.fromisoformat(doc["createdTime"]) == T0


def test_outbox_on_a_fresh_data_dir_is_empty(data_dir: Path) -> None:
    code, lines, _ = _invoke(data_dir)
    assert (code, lines) == (0, [])
    assert (data_dir / "inlet.db").exists()


def test_deliver_then_print_what_is_left(data_dir: Path, state: Engine, start_smtp: StartSmtp) -> None:
    server = start_smtp()
    code, lines, err = _invoke(data_dir, "--deliver", INLET_SMTP_URL=server.url())
    assert code == 0
    assert "delivered 2 queued email(s)" in err
    assert lines == []
    assert [m.rcpt_tos for m in server.messages] == [["pat@example.org"], ["kid@example.net"]]

    code, lines, _ = _invoke(data_dir, "--all")
    docs = [json.loads(line) for line in lines]
    assert [(d["to"], d["attempts"], d["lastError"]) for d in docs] == [
        ("pat@example.org", 1, None),
        ("kid@example.net", 1, None),
    ]
    assert all(RFC3339_UTC.fullmatch(d["sentTime"]) for d in docs)


def test_deliver_with_smtp_down_keeps_them_queued(data_dir: Path, state: Engine, closed_port: int) -> None:
    code, lines, err = _invoke(data_dir, "--deliver", INLET_SMTP_URL=f"smtp://127.0.0.1:{closed_port}")
    assert code == 0
    assert "2 failed again" in err
    assert len(lines) == 2
    down = Notifier(smtp=SmtpConfig.parse(f"smtp://127.0.0.1:{closed_port}"))
    assert down.deliver_pending(state).failed == 2
    code, lines, _ = _invoke(data_dir, "--all")
    docs = [json.loads(line) for line in lines]
    assert [d["attempts"] for d in docs] == [2, 2]
    assert all(d["sentTime"] is None and d["lastError"].startswith("ConnectionRefusedError") for d in docs)


def test_deliver_without_smtp_says_so(data_dir: Path, state: Engine) -> None:
    code, lines, err = _invoke(data_dir, "--deliver")
    assert code == 0
    assert "INLET_SMTP_URL is not set" in err
    assert len(lines) == 2


def test_malformed_smtp_url_is_refused_without_the_password(data_dir: Path) -> None:
    code, lines, err = _invoke(data_dir, INLET_SMTP_URL="smtps://me:hunter2pw@relay:465")
    assert code == 2
    assert lines == []
    assert "INLET_SMTP_URL must look like" in err
    assert "hunter2pw" not in err
