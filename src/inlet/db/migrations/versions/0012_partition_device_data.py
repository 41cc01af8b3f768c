"""Storage ready to shard: ``device_data`` hash-partitioned by ``user_id`` on PostgreSQL.

- PostgreSQL: ``device_data`` becomes ``PARTITION BY HASH (user_id)`` with ``INLET_PG_PARTITIONS``
  partitions (default 16) named ``device_data_p<i>``; the primary key is ``(user_id, pk)`` (``pk``
  keeps its sequence, so versions still order by it) and every index leads with ``user_id``, so a
  statement that names the user touches one partition. Existing rows are moved in one statement
  (``INSERT ... SELECT``) before the indexes are built. The same keys are what a Citus deployment
  needs (distribution column ``user_id``, docs/scaling.md).
- Both databases: the two indexes that led with ``data_set_id`` now lead with ``user_id``
  (``(user_id, data_set_id, type, time)``, ``(user_id, data_set_id, origin_id)``). SQLite keeps one
  table.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = (
    "pk, id, user_id, data_set_id, type, sub_type, time, device_id, origin_id, origin_time, dedup_hash, "
    "active, version, created_time, modified_time, archived_time, archived_data_set_id, deleted_time, doc"
)
OLD_INDEXES = {
    "ix_device_data_data_set_type_time": ("data_set_id", "type", "time"),
    "ix_device_data_data_set_origin": ("data_set_id", "origin_id"),
}
NEW_INDEXES = {
    "ix_device_data_user_set_type_time": ("user_id", "data_set_id", "type", "time"),
    "ix_device_data_user_set_origin": ("user_id", "data_set_id", "origin_id"),
}
KEPT_INDEXES = {
    "ix_device_data_user_time": ("user_id", "time"),
    "ix_device_data_user_type_time": ("user_id", "type", "time"),
    "ix_device_data_user_hash": ("user_id", "dedup_hash"),
    "ix_device_data_user_id": ("user_id", "id"),
}


def partitions() -> int:
    """``INLET_PG_PARTITIONS`` (default 16): how many hash partitions the migration creates."""
    value = int(os.environ.get("INLET_PG_PARTITIONS", "16"))
    if value < 1:
        raise ValueError("INLET_PG_PARTITIONS must be at least 1")
    return value


def _device_data_table(partitioned: bool) -> sa.Table:
    """device_data as 0001 made it, with the primary key of the target layout."""
    pk_default = sa.text("nextval('device_data_pk_seq')")
    kwargs: dict[str, Any] = {"postgresql_partition_by": "HASH (user_id)"} if partitioned else {}
    return sa.Table(
        "device_data",
        sa.MetaData(),
        sa.Column("pk", sa.BigInteger(), nullable=False, server_default=pk_default),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("data_set_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("sub_type", sa.String(64)),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.Text()),
        sa.Column("origin_id", sa.Text()),
        sa.Column("origin_time", sa.BigInteger()),
        sa.Column("dedup_hash", sa.String(64)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("modified_time", sa.BigInteger()),
        sa.Column("archived_time", sa.BigInteger()),
        sa.Column("archived_data_set_id", sa.String(64)),
        sa.Column("deleted_time", sa.BigInteger()),
        sa.Column("doc", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint(*(("user_id", "pk") if partitioned else ("pk",)), name="pk_device_data"),
        **kwargs,
    )


def _rebuild_postgres(partitioned: bool, indexes: dict[str, tuple[str, ...]]) -> None:
    """Move device_data into a new table of the other layout: rename, create, copy, index, drop."""
    op.execute("ALTER TABLE device_data RENAME TO device_data_moving")
    op.execute("ALTER TABLE device_data_moving DROP CONSTRAINT pk_device_data")
    for name in (*OLD_INDEXES, *NEW_INDEXES, *KEPT_INDEXES):
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("ALTER SEQUENCE device_data_pk_seq OWNED BY NONE")
    _device_data_table(partitioned).create(op.get_bind())
    if partitioned:
        count = partitions()
        for remainder in range(count):
            op.execute(
                f"CREATE TABLE device_data_p{remainder} PARTITION OF device_data "
                f"FOR VALUES WITH (MODULUS {count}, REMAINDER {remainder})"
            )
    op.execute(f"INSERT INTO device_data ({COLUMNS}) SELECT {COLUMNS} FROM device_data_moving")
    op.execute("DROP TABLE device_data_moving")
    op.execute("ALTER SEQUENCE device_data_pk_seq OWNED BY device_data.pk")
    for name, columns in indexes.items():
        op.create_index(name, "device_data", list(columns))
    op.execute("ANALYZE device_data")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild_postgres(True, {**KEPT_INDEXES, **NEW_INDEXES})
        return
    for name in OLD_INDEXES:
        op.drop_index(name, table_name="device_data")
    for name, columns in NEW_INDEXES.items():
        op.create_index(name, "device_data", list(columns))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild_postgres(False, {**KEPT_INDEXES, **OLD_INDEXES})
        return
    for name in NEW_INDEXES:
        op.drop_index(name, table_name="device_data")
    for name, columns in OLD_INDEXES.items():
        op.create_index(name, "device_data", list(columns))
