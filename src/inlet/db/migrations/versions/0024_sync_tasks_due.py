"""The due-task index orders by ``(next_run_time, id)``, the claim's whole order.

A claim takes the oldest due tasks ``ORDER BY next_run_time, id LIMIT n FOR UPDATE SKIP LOCKED``. On
``next_run_time`` alone the database sorts every due task whose time ties (all of them after an outage
or a mass reconnect made them due at once) on each claim; with ``id`` in the index it reads the first
``n`` in order and stops.

Revision ID: 0024_sync_tasks_due
Revises: 0023_clinic_periods
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0024_sync_tasks_due"
down_revision = "0023_clinic_periods"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sync_tasks_due", "sync_tasks", ["next_run_time", "id"])
    op.drop_index("ix_sync_tasks_next_run_time", table_name="sync_tasks")


def downgrade() -> None:
    op.create_index("ix_sync_tasks_next_run_time", "sync_tasks", ["next_run_time"])
    op.drop_index("ix_sync_tasks_due", table_name="sync_tasks")
