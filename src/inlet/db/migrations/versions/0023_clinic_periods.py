"""Summaries keep the clinic list's flat periods serialized at write time (``clinic_periods``).

The clinic patient list answers every period of every patient on its page, as Tidepool's does; the
summary updater writes them once as JSON text, so a list request copies bytes instead of building
and serializing about 2,000 fields a page. Summaries computed before this revision are marked
outdated (``SCHEMA_MIGRATION``) so the updater writes theirs; until then the list builds them from
the indexed period rows.

Revision ID: 0023_clinic_periods
Revises: 0018_nightscout
Create Date: 2026-12-06
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0023_clinic_periods"
down_revision = "0021_staged_open_sets"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("summaries", sa.Column("clinic_periods", sa.Text, nullable=True))
    summaries = sa.table(
        "summaries",
        sa.column("type", sa.String),
        sa.column("last_data", sa.BigInteger),
        sa.column("outdated_since", sa.BigInteger),
        sa.column("outdated_reasons", Json),
    )
    op.execute(
        summaries.update()
        .where(
            summaries.c.last_data.is_not(None),
            summaries.c.outdated_since.is_(None),
            summaries.c.type.in_(("cgm", "bgm")),
        )
        .values(outdated_since=time.time_ns() // 1000, outdated_reasons=["SCHEMA_MIGRATION"])
    )


def downgrade() -> None:
    op.drop_column("summaries", "clinic_periods")
