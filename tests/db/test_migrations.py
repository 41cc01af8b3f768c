"""Alembic owns the schema: the migrations build exactly what db/schema.py declares, and undo it."""

from __future__ import annotations

import re
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from inlet.db.migrate import downgrade, upgrade
from inlet.db.schema import metadata


def _not_a_partition(name: str | None, kind: str, *_: Any) -> bool:
    """Partitions are storage detail of a declared table (device_data_p3 of device_data)."""
    return not (kind == "table" and name is not None and PARTITION.fullmatch(name))


PARTITION = re.compile(r"(device_data_p\d+|partner_payloads_\w+)")


def test_migrations_match_the_declared_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": False, "include_name": _not_a_partition}
        )
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert {"data_sets", "device_data", "users"} <= set(inspect(engine).get_table_names())


def test_sqlite_runs_in_wal_mode(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
