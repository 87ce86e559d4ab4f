"""The ledger's one table, in SQLAlchemy Core: the same schema on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

sends = Table(
    "connectsafely_sends",
    metadata,
    # The primary key is the unique constraint that makes claiming atomic.
    Column("dedupe_key", String(512), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("account", String(128), nullable=False),
    Column("recipient", String(512), nullable=False),
    Column("claim_token", String(36), nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("retryable", Boolean, nullable=False, default=False),
    Column("error", Text),
    Column("recipient_urn", String(512)),
    Column("response", Text),
    Column("dag_id", String(250)),
    Column("task_id", String(250)),
    Column("run_id", String(250)),
    Column("map_index", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_connectsafely_sends_account_updated", "account", "updated_at"),
)
