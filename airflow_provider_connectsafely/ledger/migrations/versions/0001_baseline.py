"""Baseline: the ledger as release 0.1 created it (one table, one index).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connectsafely_sends",
        sa.Column("dedupe_key", sa.String(512), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("recipient", sa.String(512), nullable=False),
        sa.Column("claim_token", sa.String(36), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("retryable", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("recipient_urn", sa.String(512)),
        sa.Column("response", sa.Text),
        sa.Column("dag_id", sa.String(250)),
        sa.Column("task_id", sa.String(250)),
        sa.Column("run_id", sa.String(250)),
        sa.Column("map_index", sa.Integer),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_connectsafely_sends_account_updated", "connectsafely_sends", ["account", "updated_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_connectsafely_sends_account_updated", table_name="connectsafely_sends")
    op.drop_table("connectsafely_sends")
