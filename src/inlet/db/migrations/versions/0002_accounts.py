"""Accounts: users, sessions, restricted tokens, permissions, login failures.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("username", sa.String(256), nullable=True),
        sa.Column("password_hash", sa.Text),
        sa.Column("emails", Json, nullable=False),
        sa.Column("roles", Json, nullable=False),
        sa.Column("terms_accepted", sa.Text),
        sa.Column("email_verified", sa.Boolean, nullable=False),
        sa.Column("custodial", sa.Boolean, nullable=False),
        sa.Column("profile", Json),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("modified_time", sa.BigInteger),
        sa.Column("deleted_time", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("expires_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_sessions"),
    )
    op.create_index("ix_sessions_user", "sessions", ["user_id"])
    op.create_table(
        "restricted_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("paths", Json, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("expires_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_restricted_tokens"),
    )
    op.create_index("ix_restricted_tokens_user", "restricted_tokens", ["user_id"])
    op.create_table(
        "permissions",
        sa.Column("granter_id", sa.String(32), nullable=False),
        sa.Column("grantee_id", sa.String(32), nullable=False),
        sa.Column("perms", Json, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("modified_time", sa.BigInteger),
        sa.PrimaryKeyConstraint("granter_id", "grantee_id", name="pk_permissions"),
    )
    op.create_index("ix_permissions_grantee", "permissions", ["grantee_id"])
    op.create_table(
        "login_failures",
        sa.Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_login_failures"),
    )
    op.create_index("ix_login_failures_user_address_time", "login_failures", ["username", "address", "time"])


def downgrade() -> None:
    for table in ("login_failures", "permissions", "restricted_tokens", "sessions", "users"):
        op.drop_table(table)
