"""``partner_payloads`` by day on PostgreSQL, so retention drops a partition instead of deleting rows.

The table becomes ``PARTITION BY RANGE (fetched_time)`` with a default partition and one partition
per UTC day (``partner_payloads_YYYYMMDD``, see :mod:`inlet.db.payloads`); the primary key is
``(id, fetched_time)`` (``id`` keeps its sequence). Existing rows move into partitions of their
days; the days from today to three days ahead are created too. SQLite keeps one table.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from inlet.db import payloads

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COLUMNS = "id, data_source_id, user_id, provider_name, kind, fetched_time, record_count, skipped, body"
INDEXES = {
    "ix_partner_payloads_fetched_time": ("fetched_time",),
    "ix_partner_payloads_data_source_id": ("data_source_id",),
}


def _table(partitioned: bool) -> sa.Table:
    kwargs: dict[str, Any] = {"postgresql_partition_by": "RANGE (fetched_time)"} if partitioned else {}
    return sa.Table(
        "partner_payloads",
        sa.MetaData(),
        sa.Column(
            "id",
            sa.BigInteger(),
            nullable=False,
            server_default=sa.text("nextval('partner_payloads_id_seq')"),
        ),
        sa.Column("data_source_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("provider_name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("fetched_time", sa.BigInteger(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("skipped", JSONB()),
        sa.Column("body", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint(
            *(("id", "fetched_time") if partitioned else ("id",)), name="pk_partner_payloads"
        ),
        **kwargs,
    )


def _rebuild(partitioned: bool) -> None:
    conn = op.get_bind()
    op.execute("ALTER TABLE partner_payloads RENAME TO partner_payloads_moving")
    op.execute("ALTER TABLE partner_payloads_moving DROP CONSTRAINT pk_partner_payloads")
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("ALTER SEQUENCE partner_payloads_id_seq OWNED BY NONE")
    _table(partitioned).create(conn)
    if partitioned:
        op.execute("CREATE TABLE partner_payloads_default PARTITION OF partner_payloads DEFAULT")
        days = set(
            conn.execute(
                sa.text(
                    f"SELECT DISTINCT fetched_time - fetched_time % {payloads.DAY_US} "
                    "FROM partner_payloads_moving"
                )
            ).scalars()
        )
        today = payloads.day_start(int(time.time() * 1_000_000))
        days.update(today + offset * payloads.DAY_US for offset in range(payloads.DAYS_AHEAD + 1))
        for day in sorted(days):
            payloads.create_day(conn, day)
    op.execute(f"INSERT INTO partner_payloads ({COLUMNS}) SELECT {COLUMNS} FROM partner_payloads_moving")
    op.execute("DROP TABLE partner_payloads_moving")
    op.execute("ALTER SEQUENCE partner_payloads_id_seq OWNED BY partner_payloads.id")
    for name, columns in INDEXES.items():
        op.create_index(name, "partner_payloads", list(columns))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(False)
