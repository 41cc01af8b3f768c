"""Upload records selectable by index: ``data_sets.time``, ``device_model`` and ``cloud``.

``GET /data/:userId`` used to load every data set of a person and filter in Python; with these columns
(and indexes that lead with ``user_id``) it asks only for the records in the requested window, the
person's cloud CGM sets and the loopable Medtronic uploads. Existing rows are filled from their
documents.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from inlet.model.timeutil import parse_rfc3339, to_micros

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

CLOUD_PREFIXES = ("org.tidepool.oauth.", "org.inlet.partner.")


def _micros(text: Any, fallback: int) -> int:
    """The record's ``time`` in microseconds, read as the read path reads it; else ``fallback``."""
    parsed = parse_rfc3339(text) if isinstance(text, str) else None
    return to_micros(parsed) if parsed is not None else fallback


def upgrade() -> None:
    with op.batch_alter_table("data_sets") as batch:
        batch.add_column(sa.Column("time", sa.BigInteger()))
        batch.add_column(sa.Column("device_model", sa.Text()))
        batch.add_column(sa.Column("cloud", sa.Boolean(), nullable=False, server_default=sa.false()))
    conn = op.get_bind()
    table = sa.table(
        "data_sets",
        sa.column("id", sa.String),
        sa.column("client_name", sa.Text),
        sa.column("created_time", sa.BigInteger),
        sa.column("doc", sa.Text),
        sa.column("time", sa.BigInteger),
        sa.column("device_model", sa.Text),
        sa.column("cloud", sa.Boolean),
    )
    stored: sa.ColumnClause[Any] = sa.column("doc")
    doc_text = sa.cast(stored, sa.Text) if conn.dialect.name == "postgresql" else stored
    rows: Sequence[Any] = conn.execute(
        sa.select(
            sa.column("id"), sa.column("client_name"), sa.column("created_time"), doc_text.label("doc")
        ).select_from(sa.table("data_sets"))
    ).all()
    updates = []
    for row in rows:
        loaded = orjson.loads(row.doc) if row.doc else {}
        doc: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
        model = doc.get("deviceModel")
        updates.append(
            {
                "b_id": row.id,
                "b_time": _micros(doc.get("time"), row.created_time),
                "b_model": model if isinstance(model, str) else None,
                "b_cloud": bool(row.client_name and row.client_name.startswith(CLOUD_PREFIXES)),
            }
        )
    if updates:
        conn.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"))
            .values(
                time=sa.bindparam("b_time"),
                device_model=sa.bindparam("b_model"),
                cloud=sa.bindparam("b_cloud"),
            ),
            updates,
        )
    op.create_index("ix_data_sets_user_time", "data_sets", ["user_id", "time"])
    op.create_index("ix_data_sets_user_cloud", "data_sets", ["user_id", "cloud"])
    op.create_index("ix_data_sets_user_device_model", "data_sets", ["user_id", "device_model"])


def downgrade() -> None:
    op.drop_index("ix_data_sets_user_device_model", table_name="data_sets")
    op.drop_index("ix_data_sets_user_cloud", table_name="data_sets")
    op.drop_index("ix_data_sets_user_time", table_name="data_sets")
    with op.batch_alter_table("data_sets") as batch:
        batch.drop_column("cloud")
        batch.drop_column("device_model")
        batch.drop_column("time")
