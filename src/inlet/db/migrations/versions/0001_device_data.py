"""Data sets and device data.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "data_sets",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("created_user_id", sa.String(64)),
        sa.Column("data_set_type", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("deduplicator_name", sa.String(128), nullable=False),
        sa.Column("deduplicator_version", sa.String(32), nullable=False),
        sa.Column("device_id", sa.Text),
        sa.Column("client_name", sa.Text),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("modified_time", sa.BigInteger),
        sa.Column("deleted_time", sa.BigInteger),
        sa.Column("doc", Json, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_data_sets"),
    )
    op.create_index("ix_data_sets_user_created", "data_sets", ["user_id", "created_time"])

    op.create_table(
        "device_data",
        sa.Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("data_set_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("sub_type", sa.String(64)),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("device_id", sa.Text),
        sa.Column("origin_id", sa.Text),
        sa.Column("origin_time", sa.BigInteger),
        sa.Column("dedup_hash", sa.String(64)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("modified_time", sa.BigInteger),
        sa.Column("archived_time", sa.BigInteger),
        sa.Column("archived_data_set_id", sa.String(64)),
        sa.Column("deleted_time", sa.BigInteger),
        sa.Column("doc", Json, nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_device_data"),
    )
    op.create_index("ix_device_data_user_time", "device_data", ["user_id", "time"])
    op.create_index("ix_device_data_user_type_time", "device_data", ["user_id", "type", "time"])
    op.create_index("ix_device_data_data_set", "device_data", ["data_set_id"])
    op.create_index("ix_device_data_user_hash", "device_data", ["user_id", "dedup_hash"])
    op.create_index("ix_device_data_data_set_origin", "device_data", ["data_set_id", "origin_id"])
    op.create_index("ix_device_data_user_id", "device_data", ["user_id", "id"])


def downgrade() -> None:
    op.drop_table("device_data")
    op.drop_table("data_sets")
