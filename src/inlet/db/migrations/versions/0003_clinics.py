"""Clinics, clinicians, clinic patients, and signup confirmations.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "clinics",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("share_code", sa.String(14), nullable=False),
        sa.Column("doc", Json, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clinics"),
        sa.UniqueConstraint("share_code", name="uq_clinics_share_code"),
    )
    op.create_table(
        "clinicians",
        sa.Column("clinic_id", sa.String(24), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("email", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("roles", Json, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("clinic_id", "user_id", name="pk_clinicians"),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name="fk_clinicians_clinic_id_clinics"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_clinicians_user_id_users"),
    )
    op.create_index("ix_clinicians_user", "clinicians", ["user_id"])
    op.create_table(
        "clinic_patients",
        sa.Column("clinic_id", sa.String(24), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("doc", Json, nullable=False),
        sa.Column("permissions", Json, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("clinic_id", "user_id", name="pk_clinic_patients"),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name="fk_clinic_patients_clinic_id_clinics"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_clinic_patients_user_id_users"),
    )
    op.create_index("ix_clinic_patients_user", "clinic_patients", ["user_id"])
    op.create_table(
        "confirmations",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("creator_id", sa.String(32)),
        sa.Column("clinic_id", sa.String(24)),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("modified_time", sa.BigInteger),
        sa.Column("sent_time", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_confirmations"),
    )
    op.create_index("ix_confirmations_user_type", "confirmations", ["user_id", "type"])


def downgrade() -> None:
    for table in ("confirmations", "clinic_patients", "clinicians", "clinics"):
        op.drop_table(table)
