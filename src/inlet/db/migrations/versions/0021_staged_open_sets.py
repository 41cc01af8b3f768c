"""``device_data_staged``: an open normal data set's rows wait apart from ``device_data``.

Closing a normal set used to rewrite every one of its rows to make them active (on PostgreSQL a new
tuple and an entry in each of device_data's seven indexes: 38 % of an upload's time). Its rows now
wait in this table, with the same columns (the document as JSON text, one index), and closing moves
them in one ``INSERT ... SELECT`` (docs/benchmarks.md). SQLite, which updates rows in place, does
not use it. Rows of sets already open at upgrade stay in device_data (inactive); closing such a set
takes the in-place path for them. Downgrade moves staged rows into device_data as the old code
stored them (inactive) and drops the table.

On PostgreSQL the primary key is ``(user_id, pk)`` and every index leads with ``user_id``, as for
device_data (the same distribution column under Citus: docs/scaling.md).

Revision ID: 0021_staged_open_sets
Revises: 0018_nightscout
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_staged_open_sets"
down_revision = "0018_nightscout"
branch_labels = None
depends_on = None

COLUMNS = (
    "id, user_id, data_set_id, type, sub_type, time, device_id, origin_id, origin_time, dedup_hash, "
    "active, version, created_time, modified_time, archived_time, archived_data_set_id, deleted_time, doc"
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        key = [sa.Column("pk", sa.BigInteger(), sa.Identity(), nullable=False)]
        primary = sa.PrimaryKeyConstraint("user_id", "pk", name="pk_device_data_staged")
    else:
        key = [sa.Column("pk", sa.Integer(), nullable=False)]
        primary = sa.PrimaryKeyConstraint("pk", name="pk_device_data_staged")
    op.create_table(
        "device_data_staged",
        *key,
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
        sa.Column("doc", sa.Text(), nullable=False),  # the JSON text as it arrived
        primary,
    )
    op.create_index(
        "ix_device_data_staged_user_set_pk", "device_data_staged", ["user_id", "data_set_id", "pk"]
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    selected = COLUMNS.replace("doc", "CAST(doc AS jsonb)") if postgres else COLUMNS
    op.execute(
        f"INSERT INTO device_data ({COLUMNS}) SELECT {selected} FROM device_data_staged ORDER BY user_id, pk"
    )
    op.drop_table("device_data_staged")
