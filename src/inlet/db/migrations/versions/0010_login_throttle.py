"""Login throttle per address: an index on ``login_failures (address, time)`` for the rule that counts
one address's failures across every account (the account rule uses the existing
``(username, address, time)`` index by its prefix).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_login_failures_address_time", "login_failures", ["address", "time"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_address_time", table_name="login_failures")
