"""Connection requests: a clinician asked a patient, by email, to connect a partner account.

One row per clinic, patient and partner. ``last_sent_time`` is when the latest email (first request or
resend) went out and ``expires_time`` when its link stops working; ``reminder_sent_time`` is set once
the 7-day reminder went out (a resend clears it).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "connection_requests",
        sa.Column("id", PrimaryKey, primary_key=True, autoincrement=True),
        sa.Column("clinic_id", sa.String(24), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("provider_name", sa.String(64), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("last_sent_time", sa.BigInteger, nullable=False),
        sa.Column("expires_time", sa.BigInteger, nullable=False),
        sa.Column("reminder_sent_time", sa.BigInteger),
        sa.Column("created_user_id", sa.String(32)),
        sa.PrimaryKeyConstraint("id", name="pk_connection_requests"),
        sa.UniqueConstraint(
            "clinic_id",
            "user_id",
            "provider_name",
            name="uq_connection_requests_clinic_id_user_id_provider_name",
        ),
    )
    op.create_index(
        "ix_connection_requests_reminder", "connection_requests", ["reminder_sent_time", "last_sent_time"]
    )


def downgrade() -> None:
    op.drop_index("ix_connection_requests_reminder", table_name="connection_requests")
    op.drop_table("connection_requests")
