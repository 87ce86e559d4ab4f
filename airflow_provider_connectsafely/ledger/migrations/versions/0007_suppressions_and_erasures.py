"""The do-not-contact list every claim checks, and the record of erasures.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connectsafely_suppressions",
        sa.Column("person", sa.String(512), primary_key=True),
        sa.Column("scope", sa.String(300), primary_key=True),
        sa.Column("reason", sa.Text),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(256)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "connectsafely_erasures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_by", sa.String(256)),
        sa.Column("sends", sa.Integer, nullable=False),
        sa.Column("enrollments", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("connectsafely_erasures")
    op.drop_table("connectsafely_suppressions")
