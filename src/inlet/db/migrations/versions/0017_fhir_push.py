"""FHIR push: the bearer tokens of configured FHIR endpoints (encrypted) and one push task per
endpoint and person (leases, backoff, the end of the last window the endpoint accepted).

Revision ID: 0017_fhir_push
Revises: 0016_confirm_requests
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_fhir_push"
down_revision = "0016_confirm_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fhir_endpoint_tokens",
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("token_ciphertext", sa.Text, nullable=False),
        sa.Column("modified_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("endpoint", name="pk_fhir_endpoint_tokens"),
    )
    op.create_table(
        "fhir_push_tasks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("next_run_time", sa.BigInteger, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_time", sa.BigInteger),
        sa.Column("lease_generation", sa.Integer, nullable=False),
        sa.Column("failure_count", sa.Integer, nullable=False),
        sa.Column("pushed_until", sa.BigInteger),
        sa.Column("last_run_time", sa.BigInteger),
        sa.Column("last_success_time", sa.BigInteger),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fhir_push_tasks"),
        sa.UniqueConstraint("endpoint", "user_id", name="uq_fhir_push_tasks_endpoint_user_id"),
    )
    op.create_index("ix_fhir_push_tasks_next_run_time", "fhir_push_tasks", ["next_run_time"])


def downgrade() -> None:
    op.drop_index("ix_fhir_push_tasks_next_run_time", table_name="fhir_push_tasks")
    op.drop_table("fhir_push_tasks")
    op.drop_table("fhir_endpoint_tokens")
