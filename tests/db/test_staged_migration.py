"""Migration 0021 (device_data_staged) on a database holding data of every type: downgrading moves
an open upload's staged rows into device_data as the older code stored them (inactive, documents
unchanged), and upgrading again gives an empty staging table the pipeline writes to."""

from __future__ import annotations

import importlib
from typing import Any

import orjson
from sqlalchemy import Engine, inspect, select

from inlet.data.rows import build_rows, identity_hasher, serialize
from inlet.db.bulk import insert_rows
from inlet.db.migrate import downgrade, upgrade
from inlet.db.schema import DEVICE_DATA_INSERT_COLUMNS, device_data, device_data_staged
from inlet.model.identity import IDENTITY_DEVICE_ID
from inlet.model.parse import parse_data
from tests.db.test_partition_migration import USERS, every_type

BEFORE = importlib.import_module("inlet.db.migrations.versions.0021_staged_open_sets").down_revision


def _docs(engine: Engine, table: Any) -> list[tuple[Any, ...]]:
    c = table.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.id, c.user_id, c.data_set_id, c.type, c.time, c.dedup_hash, c.active, c.doc).order_by(
                c.user_id, c.pk
            )
        ).all()
    return [(*row[:-1], orjson.loads(row[-1]) if isinstance(row[-1], str) else row[-1]) for row in rows]


def test_downgrade_moves_staged_rows_of_every_type_into_device_data(engine: Engine) -> None:
    datums = parse_data(every_type()).datums
    with engine.begin() as conn:
        for number, user_id in enumerate(USERS[:3]):
            rows = build_rows(
                user_id,
                f"{number:02d}" + "c" * 30,
                datums,
                active=False,
                now=1,
                hasher=identity_hasher(user_id, IDENTITY_DEVICE_ID),
            )
            insert_rows(conn, "device_data_staged", DEVICE_DATA_INSERT_COLUMNS, serialize(rows))
    staged = _docs(engine, device_data_staged)
    assert len(staged) == 3 * len(datums)
    assert not any(row[6] for row in staged)

    downgrade(engine, BEFORE)
    assert "device_data_staged" not in inspect(engine).get_table_names()
    assert _docs(engine, device_data) == staged  # every type, inactive, documents unchanged

    upgrade(engine)
    assert _docs(engine, device_data_staged) == []
    assert len(_docs(engine, device_data)) == len(staged)
