"""Partners: provider sessions (encrypted tokens), data sources, sync tasks, OAuth states.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "provider_sessions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("provider_type", sa.String(16), nullable=False),
        sa.Column("provider_name", sa.String(64), nullable=False),
        sa.Column("external_id", sa.Text),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("scope", sa.Text),
        sa.Column("expires_time", sa.BigInteger),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("modified_time", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_provider_sessions"),
        sa.UniqueConstraint("user_id", "provider_name", name="uq_provider_sessions_user_id_provider_name"),
    )
    op.create_table(
        "data_sources",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("provider_type", sa.String(16), nullable=False),
        sa.Column("provider_name", sa.String(64), nullable=False),
        sa.Column("provider_session_id", sa.String(32)),
        sa.Column("provider_external_id", sa.Text),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error", Json),
        sa.Column("data_set_id", sa.String(64)),
        sa.Column("earliest_data_time", sa.BigInteger),
        sa.Column("latest_data_time", sa.BigInteger),
        sa.Column("last_import_time", sa.BigInteger),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("modified_time", sa.BigInteger),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_data_sources"),
        sa.UniqueConstraint("user_id", "provider_name", name="uq_data_sources_user_id_provider_name"),
    )
    op.create_table(
        "sync_tasks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("data_source_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("provider_name", sa.String(64), nullable=False),
        sa.Column("next_run_time", sa.BigInteger, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_time", sa.BigInteger),
        sa.Column("lease_generation", sa.Integer, nullable=False),
        sa.Column("failure_count", sa.Integer, nullable=False),
        sa.Column("last_run_time", sa.BigInteger),
        sa.Column("last_success_time", sa.BigInteger),
        sa.Column("last_error", Json),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("modified_time", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_sync_tasks"),
        sa.UniqueConstraint("data_source_id", name="uq_sync_tasks_data_source_id"),
        sa.UniqueConstraint("user_id", "provider_name", name="uq_sync_tasks_user_id_provider_name"),
        sa.ForeignKeyConstraint(
            ["data_source_id"], ["data_sources.id"], name="fk_sync_tasks_data_source_id_data_sources"
        ),
    )
    op.create_index("ix_sync_tasks_next_run_time", "sync_tasks", ["next_run_time"])
    op.create_table(
        "oauth_states",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("provider_name", sa.String(64), nullable=False),
        sa.Column("code_verifier", sa.Text),
        sa.Column("restricted_token_hash", sa.String(64)),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("expires_time", sa.BigInteger, nullable=False),
        sa.Column("used_time", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_states"),
    )
    op.create_index("ix_oauth_states_expires_time", "oauth_states", ["expires_time"])


def downgrade() -> None:
    for table in ("oauth_states", "sync_tasks", "data_sources", "provider_sessions"):
        op.drop_table(table)
