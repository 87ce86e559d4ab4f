"""A send's sequence step and message variant, for results per step and variant.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns with no default: SQLite adds them in place, the counting triggers
    # (which read state, account, campaign, kind and the day) are untouched.
    op.add_column("connectsafely_sends", sa.Column("step", sa.Integer))
    op.add_column("connectsafely_sends", sa.Column("variant", sa.String(64)))
    op.create_index(
        "ix_connectsafely_sends_campaign_variant",
        "connectsafely_sends",
        ["campaign", "variant", "step", "state"],
    )


def downgrade() -> None:
    op.drop_index("ix_connectsafely_sends_campaign_variant", table_name="connectsafely_sends")
    with op.batch_alter_table("connectsafely_sends") as batch:
        batch.drop_column("variant")
        batch.drop_column("step")
