"""Summaries and the clinic population list.

- ``summaries``: a person's cgm, bgm and con summary (the platform document), outdated since when,
  why, and from which data time on;
- ``summary_buckets``: the hourly buckets summaries are computed from (60 days back from the newest
  data);
- ``summary_periods``: one row per person, kind and period with every clinic field and its delta as a
  column, so the clinic's patient list filters and sorts in the database;
- ``clinic_tags``, ``clinic_patient_tags``: a clinic's patient tags and which patient carries which;
- ``clinic_reviews``: "reviewed" marks a clinician sets on a patient.

Revision ID: 0015_summaries
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0015_summaries"
down_revision = "0013"
branch_labels = None
depends_on = None

PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(JSONB(), "postgresql")
FIELDS = (
    *(
        f"timeIn{r}{s}"
        for r in ("VeryLow", "Low", "AnyLow", "Target", "High", "VeryHigh", "ExtremeHigh", "AnyHigh")
        for s in ("Percent", "Minutes", "Records")
    ),
    "timeCGMUsePercent",
    "timeCGMUseMinutes",
    "timeCGMUseRecords",
    "totalRecords",
    "averageGlucoseMmol",
    "glucoseManagementIndicator",
    "averageDailyRecords",
    "standardDeviation",
    "coefficientOfVariation",
    "hoursWithData",
    "daysWithData",
    "min",
    "max",
)


def upgrade() -> None:
    op.create_table(
        "summaries",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("type", sa.String(8), primary_key=True),
        sa.Column("outdated_since", sa.BigInteger),
        sa.Column("outdated_reasons", Json),
        sa.Column("outdated_from", sa.BigInteger),
        sa.Column("last_updated", sa.BigInteger),
        sa.Column("last_updated_reasons", Json),
        sa.Column("last_upload", sa.BigInteger),
        sa.Column("first_data", sa.BigInteger),
        sa.Column("last_data", sa.BigInteger),
        sa.Column("bucket_start", sa.BigInteger),
        sa.Column("doc", Json),
    )
    op.create_index("ix_summaries_outdated_since", "summaries", ["outdated_since"])
    op.create_table(
        "summary_buckets",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("type", sa.String(8), primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True),
        sa.Column("doc", Json, nullable=False),
    )
    op.create_table(
        "summary_periods",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("type", sa.String(8), primary_key=True),
        sa.Column("period", sa.String(4), primary_key=True),
        sa.Column("last_data", sa.BigInteger, nullable=False),
        *(sa.Column(name, sa.Float) for field in FIELDS for name in (field, f"{field}Delta")),
    )
    op.create_index("ix_summary_periods_type_period_user", "summary_periods", ["type", "period", "user_id"])
    op.create_table(
        "clinic_tags",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("clinic_id", sa.String(24), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("clinic_id", "name", name="uq_clinic_tags_clinic_id_name"),
    )
    op.create_table(
        "clinic_patient_tags",
        sa.Column("clinic_id", sa.String(24), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("tag_id", sa.String(24), primary_key=True),
    )
    op.create_index("ix_clinic_patient_tags_clinic_tag", "clinic_patient_tags", ["clinic_id", "tag_id"])
    op.create_table(
        "clinic_reviews",
        sa.Column("id", PrimaryKey, primary_key=True, autoincrement=True),
        sa.Column("clinic_id", sa.String(24), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("clinician_id", sa.String(32), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_clinic_reviews_clinic_user_time", "clinic_reviews", ["clinic_id", "user_id", "time"])


def downgrade() -> None:
    for name in (
        "clinic_reviews",
        "clinic_patient_tags",
        "clinic_tags",
        "summary_periods",
        "summary_buckets",
        "summaries",
    ):
        op.drop_table(name)
