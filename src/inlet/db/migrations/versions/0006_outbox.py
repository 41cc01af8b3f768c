"""Outbox: every email Inlet sends or queues (``inlet.notify``).

A row is written in the caller's transaction. ``sent_time`` is set once an SMTP server accepted the
message; while it is NULL the email is queued (no SMTP configured, or delivery failed: ``attempts``
and ``last_error`` say so) and ``Notifier.deliver_pending`` retries it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", PrimaryKey, primary_key=True, autoincrement=True),
        sa.Column("to", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("link", sa.Text),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("sent_time", sa.BigInteger),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_sent_time_id", "outbox", ["sent_time", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_sent_time_id", table_name="outbox")
    op.drop_table("outbox")
