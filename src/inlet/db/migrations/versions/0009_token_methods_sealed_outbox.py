"""Restricted tokens carry the HTTP methods they allow; outbox rows can be sealed (encrypted).

- ``restricted_tokens.methods``: the methods a token authenticates, next to its path prefixes (a JSON
  list, e.g. ``["GET"]``). Rows written before this revision get ``["GET"]``: a restricted token
  travels in a URL (``?restricted_token=``), and the only requests made with one are a browser's
  navigations (the OAuth authorize leg, an export link), so GET is what every existing token was for,
  and nothing that changes or deletes anything stays reachable with a link found in an old email.
- ``outbox.sealed``: the row's ``body`` and ``link`` are Fernet ciphertext under the token keys (a
  clinician's connect link is a 30-day credential); older rows stay plain (``false``) until
  ``inlet keys rotate`` seals those with a link.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("restricted_tokens") as batch:
        batch.add_column(sa.Column("methods", Json, nullable=False, server_default=sa.text("'[\"GET\"]'")))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("sealed", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("sealed")
    with op.batch_alter_table("restricted_tokens") as batch:
        batch.drop_column("methods")
