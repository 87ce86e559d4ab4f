"""Sequences: who is enrolled in which campaign at which step, and reply watermarks.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connectsafely_enrollments",
        sa.Column("campaign", sa.String(256), primary_key=True),
        sa.Column("recipient", sa.String(512), primary_key=True),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("data", sa.Text),
        sa.Column("conversation_urn", sa.String(512)),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_sent_at", sa.DateTime(timezone=True)),
        sa.Column("last_sent_at", sa.DateTime(timezone=True)),
        sa.Column("replied_at", sa.DateTime(timezone=True)),
        sa.Column("reply_text", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_connectsafely_enrollments_state", "connectsafely_enrollments", ["campaign", "state"])
    op.create_table(
        "connectsafely_reply_watermarks",
        sa.Column("campaign", sa.String(256), primary_key=True),
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("checked_until", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("connectsafely_reply_watermarks")
    op.drop_index("ix_connectsafely_enrollments_state", "connectsafely_enrollments")
    op.drop_table("connectsafely_enrollments")
