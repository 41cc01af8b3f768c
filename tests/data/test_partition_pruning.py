"""Every statement of the ingest pipeline that reads or changes ``device_data`` names the user, so on
PostgreSQL (hash-partitioned by ``user_id``) it touches one partition: adds, closes, replacements by
origin, drops by hash, truncation, deletes by selector and of whole sets, for every deduplicator."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from inlet.data.records import DataSet
from inlet.data.service import DataService
from tests.data.conftest import cbg

DEDUPLICATORS = [
    "org.tidepool.deduplicator.device.deactivate.hash",
    "org.tidepool.deduplicator.device.truncate.dataset",
    "org.tidepool.deduplicator.dataset.delete.origin",
    "org.tidepool.deduplicator.dataset.delete.origin.older",
    "org.tidepool.deduplicator.dataset.drop.hash",
    "org.tidepool.deduplicator.none",
]
TOUCHES_DEVICE_DATA = re.compile(r"\b(FROM|UPDATE|JOIN)\s+device_data\b", re.IGNORECASE)


def _unfiltered(statements: list[str]) -> list[str]:
    """Statements on device_data without a ``user_id`` condition (a COPY or INSERT adds rows: its
    partition follows from each row's user)."""
    out = []
    for sql in statements:
        if not TOUCHES_DEVICE_DATA.search(sql) or sql.lstrip().upper().startswith(("INSERT", "COPY")):
            continue
        if "device_data.user_id =" not in sql and "device_data.user_id IN" not in sql:
            out.append(sql)
    return out


@pytest.mark.parametrize("name", DEDUPLICATORS)
def test_every_pipeline_statement_names_the_user(
    engine: Engine, service: DataService, make_set: Callable[..., DataSet], name: str
) -> None:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    continuous = "delete.origin" in name
    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(2):  # the second upload meets the first one's data
            data_set = make_set(
                deduplicator={"name": name}, dataSetType="continuous" if continuous else "normal"
            )
            with engine.begin() as conn:
                origin = {"origin": {"id": "o-1", "time": "2026-10-01T10:00:00Z"}}
                service.add_data(conn, data_set, [cbg(1, **origin), cbg(2), cbg(2)])
                service.add_data(conn, data_set, [cbg(1, value=130, **origin)])
                if not continuous:
                    service.close(conn, data_set)
        with engine.begin() as conn:
            service.delete_data(conn, data_set, [{"origin": {"id": "o-1"}}])
            service.delete_data_set(conn, data_set)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert any(TOUCHES_DEVICE_DATA.search(sql) for sql in statements)
    assert _unfiltered(statements) == []


def test_the_checker_sees_a_statement_without_the_user(engine: Engine) -> None:
    with engine.connect() as conn:
        sql = "SELECT count(*) FROM device_data WHERE device_data.data_set_id = 'x'"
        conn.execute(text(sql))
    assert _unfiltered([sql]) == [sql]
