"""The conversation a send landed in, and who settled a send by hand (all nullable).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS: list[tuple[str, Any]] = [
    ("conversation_urn", sa.String(512)),
    ("thread_id", sa.String(256)),
    ("message_urn", sa.String(512)),
    ("settled_by", sa.String(256)),
    ("settled_at", sa.DateTime(timezone=True)),
    ("settle_note", sa.Text()),
]


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("connectsafely_sends", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connectsafely_sends") as batch:
        for name, _type in reversed(COLUMNS):
            batch.drop_column(name)
