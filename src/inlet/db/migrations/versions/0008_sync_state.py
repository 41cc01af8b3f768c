"""Sync engine state: per-source watermarks, the shared partner budget, raw partner payloads and the
refresh lock of a provider session.

- ``data_sources.sync_state``: the source's per-stream watermarks, device hashes and counters (JSON),
  kept across disconnects so a reconnect resumes where the last sync stopped;
- ``sync_tasks.effective_interval``: the interval the task was last scheduled with (the manifest's,
  stretched when the partner's budget is short), shown on the data source;
- ``partner_budgets``: one row per partner: requests used in the current hour window (shared by every
  worker process) and the circuit breaker (``blocked_until`` after a 429);
- ``partner_payloads``: every partner response a sync stored data from, as received, with the records
  that could not be mapped (kept so that a mapping bug is a re-run, not lost data);
- ``provider_sessions.refresh_owner`` / ``refresh_until``: a short lock so only one worker refreshes a
  rotating refresh token at a time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("data_sources") as batch:
        batch.add_column(sa.Column("sync_state", Json))
    with op.batch_alter_table("sync_tasks") as batch:
        batch.add_column(sa.Column("effective_interval", Json))
    with op.batch_alter_table("provider_sessions") as batch:
        batch.add_column(sa.Column("refresh_owner", sa.String(64)))
        batch.add_column(sa.Column("refresh_until", sa.BigInteger))
    op.create_table(
        "partner_budgets",
        sa.Column("provider_name", sa.String(64), nullable=False),
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("used", sa.Integer, nullable=False),
        sa.Column("blocked_until", sa.BigInteger),
        sa.Column("block_reason", sa.Text),
        sa.Column("modified_time", sa.BigInteger),
        sa.PrimaryKeyConstraint("provider_name", name="pk_partner_budgets"),
    )
    op.create_table(
        "partner_payloads",
        sa.Column("id", PrimaryKey, primary_key=True, autoincrement=True),
        sa.Column("data_source_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("provider_name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("fetched_time", sa.BigInteger, nullable=False),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("skipped", Json),
        sa.Column("body", Json, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_partner_payloads"),
    )
    op.create_index("ix_partner_payloads_fetched_time", "partner_payloads", ["fetched_time"])
    op.create_index("ix_partner_payloads_data_source_id", "partner_payloads", ["data_source_id"])


def downgrade() -> None:
    op.drop_index("ix_partner_payloads_data_source_id", table_name="partner_payloads")
    op.drop_index("ix_partner_payloads_fetched_time", table_name="partner_payloads")
    op.drop_table("partner_payloads")
    op.drop_table("partner_budgets")
    with op.batch_alter_table("provider_sessions") as batch:
        batch.drop_column("refresh_until")
        batch.drop_column("refresh_owner")
    with op.batch_alter_table("sync_tasks") as batch:
        batch.drop_column("effective_interval")
    with op.batch_alter_table("data_sources") as batch:
        batch.drop_column("sync_state")
