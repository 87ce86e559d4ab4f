"""The ledger's tables, in SQLAlchemy Core: the same schema on SQLite and PostgreSQL.

This is the table at ``migrations.HEAD``; change it only together with a new migration.
"""

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
    # 0002: the conversation a send landed in, and who settled it by hand.
    Column("conversation_urn", String(512)),
    Column("thread_id", String(256)),
    Column("message_urn", String(512)),
    Column("settled_by", String(256)),
    Column("settled_at", DateTime(timezone=True)),
    Column("settle_note", Text),
    Index("ix_connectsafely_sends_account_updated", "account", "updated_at"),
)

# 0003: sequences. One row per campaign and recipient; the steps themselves are sends above.
enrollments = Table(
    "connectsafely_enrollments",
    metadata,
    Column("campaign", String(256), primary_key=True),
    Column("recipient", String(512), primary_key=True),
    Column("account", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("step", Integer, nullable=False),
    Column("data", Text),
    Column("conversation_urn", String(512)),
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
    Column("first_sent_at", DateTime(timezone=True)),
    Column("last_sent_at", DateTime(timezone=True)),
    Column("replied_at", DateTime(timezone=True)),
    Column("reply_text", Text),
    Column("error", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_connectsafely_enrollments_state", "campaign", "state"),
)

# How far replies were read, per campaign and account (the account-wide listing's start).
reply_watermarks = Table(
    "connectsafely_reply_watermarks",
    metadata,
    Column("campaign", String(256), primary_key=True),
    Column("account", String(128), primary_key=True),
    Column("checked_until", DateTime(timezone=True), nullable=False),
)
