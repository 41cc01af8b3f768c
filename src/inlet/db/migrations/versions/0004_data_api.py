"""Data API: device data indexed by (data set, type, time).

``GET /data/:userId`` finds the time span of a user's cloud CGM data (the earliest and latest cbg of
each cloud data set) on every read; with ``(data_set_id, type, time)`` those are two index seeks
instead of a scan of the user's cbg. The new index replaces ``ix_device_data_data_set``
(``data_set_id`` alone), which is its prefix, so ingest maintains as many indexes as before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_device_data_data_set_type_time", "device_data", ["data_set_id", "type", "time"])
    op.drop_index("ix_device_data_data_set", table_name="device_data")


def downgrade() -> None:
    op.create_index("ix_device_data_data_set", "device_data", ["data_set_id"])
    op.drop_index("ix_device_data_data_set_type_time", table_name="device_data")
