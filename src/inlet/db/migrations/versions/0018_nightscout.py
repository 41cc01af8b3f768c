"""Nightscout sites: one per person, access tokens, kept Nightscout documents, the credential throttle.

Secrets and tokens are stored only as keyed digests (see ``inlet.nightscout.sites``).

Revision ID: 0018_nightscout
Revises: 0017_fhir_push
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0018_nightscout"
down_revision = "0017_fhir_push"
branch_labels = None
depends_on = None

PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "nightscout_sites",
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("secret_digests", Json, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("modified_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("site_id", name="pk_nightscout_sites"),
        sa.UniqueConstraint("user_id", name="uq_nightscout_sites_user_id"),
    )
    op.create_table(
        "nightscout_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("roles", Json, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("sha1_digest", sa.String(64), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_nightscout_tokens"),
        sa.UniqueConstraint("digest", name="uq_nightscout_tokens_digest"),
        sa.UniqueConstraint("sha1_digest", name="uq_nightscout_tokens_sha1_digest"),
    )
    op.create_index("ix_nightscout_tokens_site_id", "nightscout_tokens", ["site_id"])
    op.create_table(
        "nightscout_documents",
        sa.Column("pk", PrimaryKey, autoincrement=True),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("collection", sa.String(32), nullable=False),
        sa.Column("ns_id", sa.String(100), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("doc", Json, nullable=False),
        sa.Column("valid", sa.Boolean, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("modified_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_nightscout_documents"),
        sa.UniqueConstraint(
            "site_id", "collection", "ns_id", name="uq_nightscout_documents_site_id_collection_ns_id"
        ),
    )
    op.create_index(
        "ix_nightscout_documents_site_collection_time",
        "nightscout_documents",
        ["site_id", "collection", "time"],
    )
    op.create_index(
        "ix_nightscout_documents_site_modified", "nightscout_documents", ["site_id", "modified_time"]
    )
    op.create_table(
        "nightscout_failures",
        sa.Column("pk", PrimaryKey, autoincrement=True),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_nightscout_failures"),
    )
    op.create_index(
        "ix_nightscout_failures_site_address_time", "nightscout_failures", ["site_id", "address", "time"]
    )


def downgrade() -> None:
    op.drop_table("nightscout_failures")
    op.drop_table("nightscout_documents")
    op.drop_table("nightscout_tokens")
    op.drop_table("nightscout_sites")
