"""What a send is (``kind``), its campaign as a column, the page's indexes, per-day counts
kept by triggers, and when a sequence last read a connection request's acceptance.

Revision ID: 0004
Revises: 0003

The backfill reads the keys in pages (bounded memory on a ledger of any size) and counts the
existing rows in one ``INSERT ... SELECT``; after that the triggers keep the counts.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

from airflow_provider_connectsafely.ledger.records import campaign_label
from airflow_provider_connectsafely.ledger.schema import count_triggers, drop_count_triggers

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SENDS = "connectsafely_sends"
ENROLLMENTS = "connectsafely_enrollments"
COUNTS = "connectsafely_send_counts"
INDEXES = {
    "ix_connectsafely_sends_updated": ["updated_at", "dedupe_key"],
    "ix_connectsafely_sends_state_updated": ["state", "updated_at", "dedupe_key"],
    "ix_connectsafely_sends_campaign_updated": ["campaign", "updated_at", "dedupe_key"],
    "ix_connectsafely_sends_campaign_state_updated": ["campaign", "state", "updated_at", "dedupe_key"],
}
SEARCH_INDEX = "ix_connectsafely_sends_recipient_lower"
_PAGE = 5_000


def upgrade() -> None:
    op.add_column(SENDS, sa.Column("kind", sa.String(16), nullable=False, server_default="message"))
    op.add_column(SENDS, sa.Column("campaign", sa.String(300), nullable=True))
    op.add_column(ENROLLMENTS, sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
    _fill_campaigns()
    for name, columns in INDEXES.items():
        op.create_index(name, SENDS, columns)
    dialect = op.get_context().dialect.name
    ops = " text_pattern_ops" if dialect == "postgresql" else ""
    op.execute(f"CREATE INDEX {SEARCH_INDEX} ON {SENDS} (lower(recipient){ops})")
    op.create_table(
        COUNTS,
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("campaign", sa.String(300), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("state", sa.String(16), primary_key=True),
        sa.Column("sends", sa.Integer, nullable=False),
    )
    day = (
        "substr(updated_at, 1, 10)"
        if dialect == "sqlite"
        else "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    )
    op.execute(
        f"INSERT INTO {COUNTS} (day, account, campaign, kind, state, sends) "
        f"SELECT {day}, account, coalesce(campaign, ''), kind, state, count(*) FROM {SENDS} "
        f"GROUP BY {day}, account, coalesce(campaign, ''), kind, state"
    )
    for statement in count_triggers(dialect):
        op.execute(statement)


def _fill_campaigns() -> None:
    """Set ``campaign`` from each batch or sequence key, a page of keys at a time.

    Offline (``upgrade --sql``) the keys are read on a read-only connection and the script gets
    one ``UPDATE`` per campaign row: the label is computed in Python, not in SQL.
    """
    from alembic import context

    if context.is_offline_mode():
        reader = context.config.attributes["read_connection"]
        offline = sa.table(SENDS, sa.column("dedupe_key"), sa.column("campaign"))
        if reader is None or not sa.inspect(reader).has_table(SENDS):
            return
        for keys in _pages(reader, offline):
            for k in keys:
                label = campaign_label(k)
                if label:
                    op.execute(sa.update(offline).where(offline.c.dedupe_key == k).values(campaign=label))
        return
    conn = op.get_bind()
    sends = sa.table(SENDS, sa.column("dedupe_key"), sa.column("campaign"))
    write = (
        sa.update(sends)
        .where(sends.c.dedupe_key == sa.bindparam("key"))
        .values(campaign=sa.bindparam("label"))
    )
    for keys in _pages(conn, sends):
        labels = [{"key": k, "label": label} for k in keys if (label := campaign_label(k))]
        if labels:
            conn.execute(write, labels)


def _pages(conn: sa.Connection, sends: sa.TableClause) -> Iterator[list[str]]:
    """The batch and sequence keys, in pages of ``_PAGE`` (bounded memory on any ledger)."""
    key = sends.c.dedupe_key
    pick = (
        sa.select(key)
        .where(sa.or_(key.startswith("campaign:"), key.startswith("sequence:")))
        .order_by(key)
        .limit(_PAGE)
    )
    last = None
    while True:
        keys = list(conn.execute(pick if last is None else pick.where(key > last)).scalars())
        if not keys:
            return
        yield keys
        last = keys[-1]


def downgrade() -> None:
    for statement in drop_count_triggers(op.get_context().dialect.name):
        op.execute(statement)
    op.drop_table(COUNTS)
    for name in (*INDEXES, SEARCH_INDEX):
        op.drop_index(name, table_name=SENDS)
    with op.batch_alter_table(SENDS) as batch:
        batch.drop_column("campaign")
        batch.drop_column("kind")
    with op.batch_alter_table(ENROLLMENTS) as batch:
        batch.drop_column("checked_at")
