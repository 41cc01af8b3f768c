"""Care-team invitations, clinician invitations, password resets and person settings (issue 16).

- ``confirm_requests``: hydrophone's confirmations other than signup (``careteam_invitation``,
  ``clinician_invitation``, ``password_reset``, ``no_account``). The key is never stored: only its
  SHA-256 digest (``key_hash``), so a copy of the database opens no account. ``requester_address``
  is the client address of a reset request (the per-address throttle counts it).
- ``user_settings``: a person's ``/metadata/:userId/settings`` document (``units.bg``, ``bgTarget``,
  what counts as a site change).

Revision ID: 0016_confirm_requests
Revises: 0015_summaries
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0016_confirm_requests"
down_revision = "0015_summaries"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "confirm_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("creator_id", sa.String(32)),
        sa.Column("invitee_id", sa.String(32)),
        sa.Column("clinic_id", sa.String(24)),
        sa.Column("context", Json),
        sa.Column("requester_address", sa.String(64)),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("modified_time", sa.BigInteger),
        sa.Column("expires_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_confirm_requests"),
        sa.UniqueConstraint("key_hash", name="uq_confirm_requests_key_hash"),
    )
    op.create_index("ix_confirm_requests_email_type", "confirm_requests", ["email", "type"])
    op.create_index("ix_confirm_requests_creator_id_type", "confirm_requests", ["creator_id", "type"])
    op.create_index("ix_confirm_requests_clinic_id", "confirm_requests", ["clinic_id"])
    op.create_index(
        "ix_confirm_requests_requester_address_created_time",
        "confirm_requests",
        ["requester_address", "created_time"],
    )
    op.create_table(
        "user_settings",
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("doc", Json, nullable=False),
        sa.Column("modified_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_settings"),
    )


def downgrade() -> None:
    op.drop_table("user_settings")
    for index in (
        "ix_confirm_requests_requester_address_created_time",
        "ix_confirm_requests_clinic_id",
        "ix_confirm_requests_creator_id_type",
        "ix_confirm_requests_email_type",
    ):
        op.drop_index(index, table_name="confirm_requests")
    op.drop_table("confirm_requests")
