"""The ledger's tables, in SQLAlchemy Core: the same schema on SQLite and PostgreSQL.

This is the table at ``migrations.HEAD``; change it only together with a new migration.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    DDL,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    func,
)

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
    # 0004: what a row sends, and its campaign (``batch:<c>`` / ``sequence:<c>``, read from the
    # key) stored so that the page and the counts below can use an index.
    Column("kind", String(16), nullable=False, server_default="message"),
    Column("campaign", String(300)),
    # 0008: a sequence send's step, and the message variant sent (A/B results per step and
    # variant are counted over the index below).
    Column("step", Integer),
    Column("variant", String(64)),
    Index("ix_connectsafely_sends_account_updated", "account", "updated_at"),
    # 0004: the ledger page's table, newest first, whole or by state or campaign; and search.
    Index("ix_connectsafely_sends_updated", "updated_at", "dedupe_key"),
    Index("ix_connectsafely_sends_state_updated", "state", "updated_at", "dedupe_key"),
    Index("ix_connectsafely_sends_campaign_updated", "campaign", "updated_at", "dedupe_key"),
    Index("ix_connectsafely_sends_campaign_state_updated", "campaign", "state", "updated_at", "dedupe_key"),
    # 0006: the page's table filtered to one run (the operators' "ConnectSafely ledger" link).
    Index("ix_connectsafely_sends_run_updated", "run_id", "updated_at", "dedupe_key"),
    # 0008: results per step and variant.
    Index("ix_connectsafely_sends_campaign_variant", "campaign", "variant", "step", "state"),
)
# Search by the beginning of a recipient, case-insensitively (a LIKE prefix on PostgreSQL, a
# range on SQLite).
Index(
    "ix_connectsafely_sends_recipient_lower",
    func.lower(sends.c.recipient).label("recipient_lower"),
    postgresql_ops={"recipient_lower": "text_pattern_ops"},
)

# 0004: how many sends rows are in each state, per UTC day of ``updated_at``, account, campaign
# and kind. The database keeps it (triggers below, on every insert, update and delete of a
# send), so the page's totals cost a few hundred rows whatever the ledger's size.
send_counts = Table(
    "connectsafely_send_counts",
    metadata,
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD, UTC
    Column("account", String(128), primary_key=True),
    Column("campaign", String(300), primary_key=True),  # '' for sends of no campaign
    Column("kind", String(16), primary_key=True),
    Column("state", String(16), primary_key=True),
    Column("sends", Integer, nullable=False),
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
    # 0004: when a connect step's acceptance was last read (reads are spaced out).
    Column("checked_at", DateTime(timezone=True)),
    # 0006: when the person was found connected after a connect step (the funnel's
    # "accepted"), and why their latest due step did not go out (or went out as a skip).
    Column("accepted_at", DateTime(timezone=True)),
    Column("skip_reason", String(64)),
    Column("skipped_at", DateTime(timezone=True)),
    Index("ix_connectsafely_enrollments_state", "campaign", "state"),
    # 0006: the page's funnel (counts per step and state) and its latest replies.
    Index("ix_connectsafely_enrollments_funnel", "campaign", "step", "state", "skip_reason", "accepted_at"),
    Index("ix_connectsafely_enrollments_replied", "replied_at"),
    Index("ix_connectsafely_enrollments_campaign_replied", "campaign", "replied_at"),
)

# How far replies were read, per campaign and account (the account-wide listing's start).
reply_watermarks = Table(
    "connectsafely_reply_watermarks",
    metadata,
    Column("campaign", String(256), primary_key=True),
    Column("account", String(128), primary_key=True),
    Column("checked_until", DateTime(timezone=True), nullable=False),
)


# 0005: the cap a task applied to an account, per cap window (a UTC day for messages, the week
# from Monday for connection requests), so the page and ``stats`` show what was enforced.
caps = Table(
    "connectsafely_caps",
    metadata,
    Column("account", String(128), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("window_start", DateTime(timezone=True), primary_key=True),
    Column("cap", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# 0005: what a trigger remembers between runs (the reply watcher's watermark), in the ledger's
# database so that every triggerer of a deployment, and a restarted one, shares it. ``version``
# makes each write a compare-and-set.
trigger_state = Table(
    "connectsafely_trigger_state",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("state", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# 0006: a LinkedIn account a task found unavailable (401/403, or a status other than
# AVAILABLE), and when; removed when a task finds it available again.
account_status = Table(
    "connectsafely_account_status",
    metadata,
    Column("account", String(128), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

# 0007: the do-not-contact list. One row per person and scope; every claim checks it in its
# own statement. ``person`` is the recipient as the sends key it (a lower-case profile ID, or a
# URN), or ``hmac:<hex>`` of it once the person was forgotten.
suppressions = Table(
    "connectsafely_suppressions",
    metadata,
    Column("person", String(512), primary_key=True),
    Column("scope", String(300), primary_key=True),  # '' everywhere, else one campaign
    Column("reason", Text),
    Column("source", String(16), nullable=False),  # manual, import, reply, api
    Column("created_by", String(256)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# 0007: each erasure (``connectsafely-ledger forget``): when and by whom, never whose.
erasures = Table(
    "connectsafely_erasures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("erased_at", DateTime(timezone=True), nullable=False),
    Column("erased_by", String(256)),
    Column("sends", Integer, nullable=False),
    Column("enrollments", Integer, nullable=False),
)

#: The triggers (and PostgreSQL function) that keep ``send_counts`` equal to a GROUP BY over
#: ``sends``; migration 0004 installs these same statements.
_DIMENSIONS = "day, account, campaign, kind, state"
_SQLITE_DAY = "substr({row}.updated_at, 1, 10)"


def _sqlite_bump(row: str, delta: int) -> str:
    return (
        f"INSERT INTO connectsafely_send_counts ({_DIMENSIONS}, sends) VALUES ("
        f"{_SQLITE_DAY.format(row=row)}, {row}.account, coalesce({row}.campaign, ''), {row}.kind, "
        f"{row}.state, {delta}) ON CONFLICT ({_DIMENSIONS}) DO UPDATE SET sends = sends + ({delta});"
    )


def _sqlite_differs() -> str:
    parts = [f"OLD.{c} IS NOT NEW.{c}" for c in ("state", "account", "campaign", "kind")]
    parts.append(f"{_SQLITE_DAY.format(row='OLD')} IS NOT {_SQLITE_DAY.format(row='NEW')}")
    return " OR ".join(parts)


def count_triggers(dialect: str) -> list[str]:
    """The statements creating the counting triggers on ``dialect`` (``sqlite`` or
    ``postgresql``), in order."""
    if dialect == "sqlite":
        on = "ON connectsafely_sends FOR EACH ROW"
        return [
            f"CREATE TRIGGER connectsafely_sends_count_insert AFTER INSERT {on} "
            f"BEGIN {_sqlite_bump('NEW', 1)} END",
            f"CREATE TRIGGER connectsafely_sends_count_delete AFTER DELETE {on} "
            f"BEGIN {_sqlite_bump('OLD', -1)} END",
            f"CREATE TRIGGER connectsafely_sends_count_update AFTER UPDATE {on} "
            f"WHEN {_sqlite_differs()} BEGIN {_sqlite_bump('OLD', -1)} {_sqlite_bump('NEW', 1)} END",
        ]
    if dialect == "postgresql":
        return [_PG_FUNCTION, _PG_TRIGGER]
    raise ValueError(f"the send ledger supports SQLite and PostgreSQL, not {dialect}")


def drop_count_triggers(dialect: str) -> list[str]:
    """The statements removing what :func:`count_triggers` created."""
    if dialect == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS connectsafely_sends_count_{op}" for op in ("insert", "delete", "update")
        ]
    return [
        "DROP TRIGGER IF EXISTS connectsafely_sends_count ON connectsafely_sends",
        "DROP FUNCTION IF EXISTS connectsafely_count_sends()",
    ]


# Two counter rows change per update: they are always locked in the same order (the smaller
# key first), so two workers moving sends in opposite directions cannot deadlock.
_PG_FUNCTION = """
CREATE FUNCTION connectsafely_count_sends() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_key text[];
    new_key text[];
    keys text[][];
    deltas int[];
    i int;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_key := ARRAY[to_char(OLD.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), OLD.account,
                         coalesce(OLD.campaign, ''), OLD.kind, OLD.state];
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_key := ARRAY[to_char(NEW.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), NEW.account,
                         coalesce(NEW.campaign, ''), NEW.kind, NEW.state];
    END IF;
    IF old_key IS NULL THEN
        keys := ARRAY[new_key]; deltas := ARRAY[1];
    ELSIF new_key IS NULL THEN
        keys := ARRAY[old_key]; deltas := ARRAY[-1];
    ELSIF old_key = new_key THEN
        RETURN NULL;
    ELSIF old_key < new_key THEN
        keys := ARRAY[old_key, new_key]; deltas := ARRAY[-1, 1];
    ELSE
        keys := ARRAY[new_key, old_key]; deltas := ARRAY[1, -1];
    END IF;
    FOR i IN 1 .. array_length(deltas, 1) LOOP
        INSERT INTO connectsafely_send_counts (day, account, campaign, kind, state, sends)
        VALUES (keys[i][1], keys[i][2], keys[i][3], keys[i][4], keys[i][5], deltas[i])
        ON CONFLICT (day, account, campaign, kind, state)
        DO UPDATE SET sends = connectsafely_send_counts.sends + EXCLUDED.sends;
    END LOOP;
    RETURN NULL;
END
$$
"""
_PG_TRIGGER = (
    "CREATE TRIGGER connectsafely_sends_count AFTER INSERT OR UPDATE OR DELETE ON connectsafely_sends "
    "FOR EACH ROW EXECUTE FUNCTION connectsafely_count_sends()"
)


def _install_count_triggers(_target: Any, connection: Any, **_kw: Any) -> None:
    for statement in count_triggers(connection.dialect.name):
        connection.execute(DDL(statement.replace("%", "%%")))


event.listen(metadata, "after_create", _install_count_triggers)
