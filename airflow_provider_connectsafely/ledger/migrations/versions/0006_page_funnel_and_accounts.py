"""The ledger page's funnel, replies and accounts: when a connection request was accepted, why
a person's step did not go out, accounts found unavailable, and the indexes the page reads.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ENROLLMENTS = "connectsafely_enrollments"
ENROLLMENT_COLUMNS: dict[str, sa.types.TypeEngine[Any]] = {
    "accepted_at": sa.DateTime(timezone=True),
    "skip_reason": sa.String(64),
    "skipped_at": sa.DateTime(timezone=True),
}
INDEXES = {
    "ix_connectsafely_sends_run_updated": ("connectsafely_sends", ["run_id", "updated_at", "dedupe_key"]),
    "ix_connectsafely_enrollments_funnel": (
        ENROLLMENTS,
        ["campaign", "step", "state", "skip_reason", "accepted_at"],
    ),
    "ix_connectsafely_enrollments_replied": (ENROLLMENTS, ["replied_at"]),
    "ix_connectsafely_enrollments_campaign_replied": (ENROLLMENTS, ["campaign", "replied_at"]),
}


def upgrade() -> None:
    for name, type_ in ENROLLMENT_COLUMNS.items():
        op.add_column(ENROLLMENTS, sa.Column(name, type_, nullable=True))
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)
    op.create_table(
        "connectsafely_account_status",
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("connectsafely_account_status")
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
    with op.batch_alter_table(ENROLLMENTS) as batch:
        for name in ENROLLMENT_COLUMNS:
            batch.drop_column(name)
