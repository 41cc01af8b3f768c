"""Alembic owns the schema: the migrations build exactly what db/schema.py declares, and undo it."""

from __future__ import annotations

import re
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text

from inlet.db.migrate import downgrade, upgrade
from inlet.db.schema import metadata, outbox, restricted_tokens


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


def test_0009_gives_older_restricted_tokens_get_only_and_keeps_older_emails_plain(engine: Engine) -> None:
    """A token written before restricted tokens carried methods may only GET (the safe default: a URL
    credential is for a browser's navigation); an older email stays readable as written."""
    downgrade(engine, "0008")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO restricted_tokens (token_hash, user_id, paths, created_time, expires_time) "
                "VALUES ('h', 'u', :paths, 1, 2)"
            ),
            {"paths": '["/v1/oauth/dexcom"]'},
        )
        conn.execute(
            text(
                'INSERT INTO outbox ("to", subject, body, link, created_time, attempts) '
                "VALUES ('a@example.org', 's', 'b', 'l', 1, 0)"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(select(restricted_tokens.c.methods)).scalar_one() == ["GET"]
        row = conn.execute(select(outbox.c.body, outbox.c.link, outbox.c.sealed)).one()
    assert tuple(row) == ("b", "l", False)
