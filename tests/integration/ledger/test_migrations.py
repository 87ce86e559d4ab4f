"""The ledger's schema under Alembic: a 0.1 ledger upgrades in place, a new one starts at head,
a newer one is refused, and concurrent first use migrates exactly once (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest
from helpers.paths import FIXTURES, REPO
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from airflow_provider_connectsafely.errors import ConnectSafelyConfigError
from airflow_provider_connectsafely.ledger import FAILED, PENDING, SENT, UNKNOWN, NewSend
from airflow_provider_connectsafely.ledger.migrations import BASELINE, HEAD, VERSION_TABLE
from airflow_provider_connectsafely.ledger.store import SendLedger

# Alembic cannot compare expression indexes (the recipient search index); the test below
# compares them itself.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
    pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index"),
]
# Every ledger here runs on this clock: nothing depends on today's date.
NOW = datetime(2025, 6, 3, 12, 0, tzinfo=timezone.utc)
OLD_COLUMNS = (
    "dedupe_key, state, account, recipient, claim_token, attempts, retryable, error, recipient_urn, "
    "response, dag_id, task_id, run_id, map_index, created_at, updated_at"
)
NEW_COLUMNS = ("conversation_urn", "thread_id", "message_urn", "settled_by", "settled_at", "settle_note")
# The rows in tests/fixtures/ledger_0_1.*.sql: (state, attempts, retryable).
FIXTURE_ROWS = {
    "spring:pending": (PENDING, 1, False),
    "spring:sent": (SENT, 1, False),
    "spring:second-attempt": (SENT, 2, False),
    "spring:failed-retryable": (FAILED, 1, True),
    "spring:failed-final": (FAILED, 1, False),
    "spring:unknown": (UNKNOWN, 1, False),
    "spring:resolved-sent": (SENT, 1, False),
    "spring:resolved-failed": (FAILED, 1, True),
    "spring:taken-over": (PENDING, 2, False),
    "adhoc:josé": (SENT, 1, False),
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    """An empty database on SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    return request.getfixturevalue("postgres_url")


def load_0_1(url: str, release: str = "0_1") -> None:
    """Write the ledger that release 0.1 (or ``release``) left behind (its own DDL and rows)."""
    dialect = make_url(url).get_backend_name()
    script = (FIXTURES / f"ledger_{release}.{dialect}.sql").read_text(encoding="utf-8")
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        if dialect == "sqlite":
            raw.driver_connection.executescript(script)
        else:
            raw.cursor().execute(script)
            raw.commit()
    finally:
        raw.close()
        engine.dispose()


def query(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def execute(url: str, sql: str, params: object = None) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def schema_differences(url: str) -> list:
    """What Alembic's autogenerate finds between the database and ``schema.py``."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from airflow_provider_connectsafely.ledger.schema import metadata

    def ours(name, type_, _parent):
        return type_ != "table" or name in metadata.tables

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts={"include_name": ours}), metadata)
    finally:
        engine.dispose()


def open_ledger(url: str) -> SendLedger:
    return SendLedger.from_url(url, clock=lambda: NOW)


def test_a_0_1_ledger_upgrades_in_place_with_nothing_lost(url):
    load_0_1(url)
    before = query(url, f"SELECT {OLD_COLUMNS} FROM connectsafely_sends ORDER BY dedupe_key")
    assert len(before) == len(FIXTURE_ROWS)
    ledger = open_ledger(url)
    assert ledger.schema_version() is None

    entries = ledger.get_many(FIXTURE_ROWS)

    assert ledger.schema_version() == HEAD
    assert query(url, f"SELECT {OLD_COLUMNS} FROM connectsafely_sends ORDER BY dedupe_key") == before
    assert query(url, f"SELECT {', '.join(NEW_COLUMNS)} FROM connectsafely_sends") == [(None,) * 6] * 10
    assert schema_differences(url) == []
    assert {key: (e.state, e.attempts, e.retryable) for key, e in entries.items()} == FIXTURE_ROWS
    sent = entries["spring:sent"]
    assert sent.recipient_urn == "urn:li:fsd_profile:ACoAAB2"
    assert sent.response == {
        "success": True,
        "message": "Message sent successfully",
        "recipientProfileUrn": "urn:li:fsd_profile:ACoAAB2",
    }
    assert (sent.dag_id, sent.task_id, sent.map_index) == ("crm_outreach", "send", 1)
    assert sent.run_id == "scheduled__2025-06-02T09:00:00+00:00"
    assert sent.created_at == datetime(2025, 6, 2, 9, 1, 1, 250000, tzinfo=timezone.utc)
    assert sent.updated_at == datetime(2025, 6, 2, 9, 2, 2, 500000, tzinfo=timezone.utc)
    assert (sent.conversation_urn, sent.settled_by, sent.settled_at) == (None, None, None)
    assert entries["spring:failed-final"].error.endswith("recipient can't receive messages")
    assert entries["spring:resolved-sent"].error == "resolved by hand: seen in the LinkedIn inbox"
    josé = entries["adhoc:josé"]
    assert (josé.account, josé.recipient, josé.dag_id, josé.map_index) == (
        "default",
        "urn:li:fsd_profile:José-Núñez",
        None,
        None,
    )
    assert josé.response["note"] == "¡Hola! 'quoted' \"double\""
    # sent, pending and unknown rows still count against the day's cap
    assert ledger.count_since("sales@example.com", datetime(2025, 6, 2, tzinfo=timezone.utc)) == 6
    ledger.close()


def test_an_upgraded_0_1_ledger_keeps_blocking_and_records_the_new_columns(url):
    load_0_1(url)
    ledger = open_ledger(url)

    def claim(key: str, **kwargs):
        return ledger.claim(
            NewSend(key, "sales@example.com", "ACoAAB1", "crm_outreach", "send", "r", 0), **kwargs
        )

    for key in (
        "spring:sent",
        "spring:resolved-sent",
        "spring:pending",
        "spring:unknown",
        "spring:failed-final",
    ):
        refused = claim(key)
        assert not refused.claimed and refused.entry.state == FIXTURE_ROWS[key][0]

    retry = claim("spring:failed-retryable")
    assert retry.claimed
    answer = {
        "success": True,
        "recipientProfileUrn": "urn:li:fsd_profile:ACoAAB4",
        "conversationUrn": "urn:li:msg_conversation:(urn:li:fsd_profile:ME,2-abc)",
        "threadId": "2-abc",
        "sentMessage": {"messageUrn": "urn:li:msg_message:(urn:li:fsd_profile:ME,2-abc-1)", "text": "Hi"},
    }
    ledger.mark_sent("spring:failed-retryable", retry.token, answer)
    sent = ledger.get("spring:failed-retryable")
    assert (sent.state, sent.attempts, sent.updated_at) == (SENT, 2, NOW)
    assert sent.conversation_urn == answer["conversationUrn"]
    assert sent.thread_id == "2-abc"
    assert sent.message_urn == "urn:li:msg_message:(urn:li:fsd_profile:ME,2-abc-1)"
    assert sent.response == answer
    assert not claim("spring:failed-retryable").claimed

    assert ledger.resolve("spring:unknown", FAILED, "not in the inbox", settled_by="ops@example.com")
    settled = ledger.get("spring:unknown")
    assert (settled.state, settled.retryable, settled.error) == (
        FAILED,
        True,
        "resolved by hand: not in the inbox",
    )
    assert (settled.settled_by, settled.settled_at, settled.settle_note) == (
        "ops@example.com",
        NOW,
        "not in the inbox",
    )
    # a new attempt starts clean: the settlement belonged to the last one
    again = claim("spring:unknown")
    assert again.claimed
    assert ledger.get("spring:unknown").settled_by is None

    fresh = claim("autumn:new")
    assert fresh.claimed
    ledger.mark_sent("autumn:new", fresh.token, {"success": True})
    assert (ledger.get("autumn:new").state, ledger.get("autumn:new").conversation_urn) == (SENT, None)
    ledger.close()


def test_the_baseline_revision_is_the_0_1_schema_and_upgrading_from_it_keeps_rows(url):
    from alembic import command
    from alembic.config import Config

    from airflow_provider_connectsafely.ledger import migrations

    load_0_1(url)
    released = describe_table(url)
    rows = query(url, f"SELECT {OLD_COLUMNS} FROM connectsafely_sends")
    execute(url, "DROP TABLE connectsafely_sends")
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    engine = create_engine(url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, BASELINE)
    engine.dispose()
    assert describe_table(url) == released

    names = [name.strip() for name in OLD_COLUMNS.split(",")]
    insert = f"INSERT INTO connectsafely_sends ({OLD_COLUMNS}) VALUES ({', '.join(':' + n for n in names)})"
    execute(url, insert, [dict(zip(names, row, strict=True)) for row in rows])
    ledger = open_ledger(url)
    assert ledger.schema_version() == BASELINE
    assert ledger.upgrade()
    assert ledger.schema_version() == HEAD
    assert sorted(query(url, f"SELECT {OLD_COLUMNS} FROM connectsafely_sends")) == sorted(rows)
    assert not ledger.upgrade()  # already at head
    ledger.close()


def describe_table(url: str) -> dict:
    engine = create_engine(url)
    try:
        found = inspect(engine)
        columns = [
            (c["name"], str(c["type"]), c["nullable"], getattr(c["type"], "timezone", None))
            for c in found.get_columns("connectsafely_sends")
        ]
        indexes = sorted(
            (i["name"], tuple(i["column_names"]), bool(i["unique"]))
            for i in found.get_indexes("connectsafely_sends")
        )
        return {
            "columns": columns,
            "primary key": found.get_pk_constraint("connectsafely_sends")["constrained_columns"],
            "indexes": indexes,
        }
    finally:
        engine.dispose()


def test_a_new_ledger_is_created_at_head(url):
    ledger = open_ledger(url)
    assert ledger.schema_version() is None
    assert ledger.claim(NewSend("k1", "acct", "bob")).claimed
    assert ledger.schema_version() == HEAD
    assert query(url, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD,)]
    assert schema_differences(url) == []
    assert not ledger.upgrade()
    ledger.close()


def test_the_head_constant_is_the_newest_revision():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from airflow_provider_connectsafely.ledger import migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD]


def test_a_ledger_newer_than_the_code_is_refused_naming_both_versions(url):
    open_ledger(url).ensure_schema()
    execute(url, f"UPDATE {VERSION_TABLE} SET version_num = '9999'")

    ledger = open_ledger(url)
    assert ledger.schema_version() == "9999"
    with pytest.raises(ConnectSafelyConfigError) as raised:
        ledger.ensure_schema()
    message = str(raised.value)
    assert "9999" in message and HEAD in message
    assert "every worker" in message
    with pytest.raises(ConnectSafelyConfigError):
        ledger.claim(NewSend("k1", "acct", "bob"))
    assert query(url, f"SELECT version_num FROM {VERSION_TABLE}") == [("9999",)]
    ledger.close()


WORKER = textwrap.dedent(
    """
    import logging, pathlib, sys, time
    import alembic.command, alembic.runtime.migration  # loaded before the start line
    from airflow_provider_connectsafely.ledger.store import SendLedger

    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s: %(message)s")
    ledger = SendLedger.from_url(sys.argv[1])
    print("ready", flush=True)
    go = pathlib.Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.002)
    ledger.ensure_schema()
    print("version", ledger.schema_version(), flush=True)
    """
)


@pytest.mark.parametrize("start", ["new", "0.1"])
def test_concurrent_first_use_migrates_once(url, start, tmp_path):
    if start == "0.1":
        load_0_1(url)
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, str(go)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    go.touch()
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        outputs.append(out)

    assert all(f"version {HEAD}" in out for out in outputs)
    migrated = [
        line
        for out in outputs
        for line in out.splitlines()
        if line.startswith("airflow_provider_connectsafely.ledger.migrations")
    ]
    assert len(migrated) == 1, outputs
    assert ("-> " + HEAD) in migrated[0]
    assert query(url, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD,)]
    expected = len(FIXTURE_ROWS) if start == "0.1" else 0
    assert query(url, "SELECT COUNT(*) FROM connectsafely_sends") == [(expected,)]


COUNT_GROUPS = {
    "sqlite": "substr(updated_at, 1, 10)",
    "postgresql": "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}


def grouped_sends(url: str) -> list[tuple]:
    """What ``connectsafely_send_counts`` must hold: the sends grouped by its dimensions."""
    day = COUNT_GROUPS[make_url(url).get_backend_name()]
    return sorted(
        query(
            url,
            f"SELECT {day}, account, coalesce(campaign, ''), kind, state, count(*) FROM connectsafely_sends "
            f"GROUP BY {day}, account, coalesce(campaign, ''), kind, state",
        )
    )


def kept_counts(url: str) -> list[tuple]:
    return sorted(
        query(
            url,
            "SELECT day, account, campaign, kind, state, sends FROM connectsafely_send_counts "
            "WHERE sends <> 0",
        )
    )


def migrate_to(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from airflow_provider_connectsafely.ledger import migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    engine = create_engine(url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.stamp(config, BASELINE)
        command.upgrade(config, revision)
    engine.dispose()


def test_0004_reads_each_campaign_from_its_key_and_counts_the_rows_already_there(url):
    load_0_1(url)
    migrate_to(url, "0003")
    names = [name.strip() for name in OLD_COLUMNS.split(",")]
    row = dict(zip(names, query(url, f"SELECT {OLD_COLUMNS} FROM connectsafely_sends")[0], strict=True))
    keys = {
        "campaign:spring:ann": "batch:spring",
        "campaign:q1:emea:urn:li:fsd_profile:X": "batch:q1:emea",
        "sequence:on:board:2:bob": "sequence:on:board",
        "sequence:onboard:bob": None,  # not a step key
        "dag/task/run/ann": None,
    }
    for number, key in enumerate(keys):
        state = (SENT, FAILED, UNKNOWN, SENT, PENDING)[number]
        execute(
            url,
            f"INSERT INTO connectsafely_sends ({OLD_COLUMNS}) VALUES ({', '.join(':' + n for n in names)})",
            {**row, "dedupe_key": key, "state": state, "account": f"acct-{number % 2}"},
        )

    ledger = open_ledger(url)
    assert ledger.upgrade()

    found = dict(query(url, "SELECT dedupe_key, campaign FROM connectsafely_sends"))
    assert {key: found[key] for key in keys} == keys
    assert all(found[key] is None for key in FIXTURE_ROWS)
    assert set(query(url, "SELECT DISTINCT kind FROM connectsafely_sends")) == {("message",)}
    assert kept_counts(url) == grouped_sends(url)
    assert (NOW.date().isoformat(), "acct-0", "batch:spring", "message", SENT, 1) not in kept_counts(url)
    assert schema_differences(url) == []

    # from here the triggers keep the counts: a claim, a finish, a settlement and a delete
    claim = ledger.claim(NewSend("campaign:spring:cy", "acct-0", "cy"))
    ledger.mark_sent("campaign:spring:cy", claim.token, {"success": True})
    ledger.resolve("sequence:onboard:bob", SENT, "seen")
    execute(url, "DELETE FROM connectsafely_sends WHERE dedupe_key = 'campaign:spring:ann'")
    assert (NOW.date().isoformat(), "acct-0", "batch:spring", "message", SENT, 1) in kept_counts(url)
    assert kept_counts(url) == grouped_sends(url)
    ledger.close()


def triggers_and_indexes(url: str) -> list[tuple]:
    if make_url(url).get_backend_name() == "sqlite":
        sql = (
            "SELECT name, sql FROM sqlite_master WHERE type IN ('trigger', 'index') "
            "AND name LIKE '%connectsafely%' ORDER BY name"
        )
    else:
        sql = (
            "SELECT tgname, pg_get_triggerdef(oid) || pg_get_functiondef(tgfoid) FROM pg_trigger "
            "WHERE NOT tgisinternal UNION ALL SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'public' ORDER BY 1"
        )
    return query(url, sql)


def test_a_new_ledger_and_an_upgraded_one_have_the_same_triggers_and_indexes(url, tmp_path):
    sqlite = make_url(url).get_backend_name() == "sqlite"
    other = f"sqlite:///{tmp_path / 'other.sqlite'}" if sqlite else url  # PostgreSQL: emptied
    load_0_1(url)
    open_ledger(url).ensure_schema()
    upgraded = triggers_and_indexes(url)
    if other == url:
        execute(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    open_ledger(other).ensure_schema()

    assert triggers_and_indexes(other) == upgraded
    names = {name for name, _ in upgraded}
    assert {"ix_connectsafely_sends_recipient_lower", "ix_connectsafely_sends_state_updated"} <= names
    assert any(name.startswith("connectsafely_sends_count") for name in names)


# -- explicit upgrades: `connectsafely-ledger version`, `upgrade --sql`, `upgrade` ------------


def cli(*argv: str) -> tuple[int, str, str]:
    import contextlib
    import io

    from airflow_provider_connectsafely.cli.ledger import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def run_script(url: str, script: str) -> None:
    """Apply SQL as a DBA would: the whole script, as printed."""
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        if make_url(url).get_backend_name() == "sqlite":
            raw.driver_connection.executescript(script)
        else:
            raw.driver_connection.autocommit = True
            raw.driver_connection.execute(script)
    finally:
        raw.close()
        engine.dispose()


def everything(url: str) -> list[tuple]:
    """Every table with its rows, to tell that a command changed nothing."""
    engine = create_engine(url)
    try:
        names = sorted(inspect(engine).get_table_names())
        with engine.connect() as conn:
            return [
                (n, sorted(map(tuple, conn.execute(text(f"SELECT * FROM {n}"))), key=repr)) for n in names
            ]
    finally:
        engine.dispose()


def test_version_and_upgrade_sql_read_a_0_1_ledger_without_changing_it(url):
    load_0_1(url)
    before = everything(url)

    code, out, _ = cli("version", "--url", url)
    assert code == 0
    assert "schema:   0001" in out and f"provider: {HEAD}" in out and "connectsafely-ledger upgrade" in out
    code, script, _ = cli("upgrade", "--sql", "--url", url)
    assert code == 0 and "CREATE TABLE connectsafely_trigger_state" in script
    assert "ALTER TABLE connectsafely_sends ADD COLUMN kind" in script
    code, _, err = cli("list", "--url", url)
    assert code == 2 and err.count("\n") == 1 and "connectsafely-ledger upgrade" in err

    assert everything(url) == before


def test_the_printed_sql_brings_a_0_1_ledger_to_the_schema_a_task_would(url):
    load_0_1(url)
    _, script, _ = cli("upgrade", "--sql", "--url", url)
    run_script(url, script)
    assert query(url, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD,)]
    assert schema_differences(url) == []
    assert cli("upgrade", "--sql", "--url", url)[1].startswith("-- The send ledger")
    assert open_ledger(url).get_many(FIXTURE_ROWS).keys() == FIXTURE_ROWS.keys()


def test_the_printed_sql_for_an_empty_database_creates_the_ledger(url):
    _, script, _ = cli("upgrade", "--sql", "--url", url)
    run_script(url, script)
    assert query(url, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD,)]
    assert schema_differences(url) == []


def test_upgrade_migrates_once_then_has_nothing_to_do(url):
    load_0_1(url)
    code, out, _ = cli("upgrade", "--url", url)
    assert code == 0 and f"schema (none) -> {HEAD}" in out
    assert query(url, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD,)]
    code, out, _ = cli("upgrade", "--url", url)
    assert code == 0 and "already at schema" in out
    code, out, _ = cli("list", "--url", url, "--format", "json")
    assert code == 0 and len(__import__("json").loads(out)) == len(FIXTURE_ROWS)
    assert "up to date" in cli("version", "--url", url)[1]


def test_upgrade_refuses_a_newer_ledger(url):
    open_ledger(url).ensure_schema()
    execute(url, f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    code, _, err = cli("upgrade", "--url", url)
    assert code == 2 and "9999" in err and err.count("\n") == 1


# -- a ledger written by the previous release (0.2.0, schema 0005) ------------------------------

# Its tables and columns (tests/fixtures/ledger_0_2.*.sql, made by make_ledger_0_2.py): what a
# newer schema must keep as it was.
RELEASE_0_2_COLUMNS = {
    "connectsafely_sends": OLD_COLUMNS + ", " + ", ".join(NEW_COLUMNS) + ", kind, campaign",
    "connectsafely_send_counts": "day, account, campaign, kind, state, sends",
    "connectsafely_enrollments": (
        "campaign, recipient, account, state, step, data, conversation_urn, enrolled_at, first_sent_at, "
        "last_sent_at, replied_at, reply_text, error, updated_at, checked_at"
    ),
    "connectsafely_reply_watermarks": "campaign, account, checked_until",
    "connectsafely_caps": "account, kind, window_start, cap, updated_at",
    "connectsafely_trigger_state": "key, state, version, updated_at",
}


def release_0_2_rows(url: str) -> dict[str, list[tuple]]:
    return {
        table: sorted(query(url, f"SELECT {columns} FROM {table}"), key=repr)
        for table, columns in RELEASE_0_2_COLUMNS.items()
    }


def test_a_0_2_ledger_upgrades_in_place_with_nothing_lost(url):
    from airflow_provider_connectsafely.ledger.sequences import SequenceStore
    from airflow_provider_connectsafely.ledger.trigger_state import TriggerStateStore

    load_0_1(url, "0_2")
    before = release_0_2_rows(url)
    assert {table: len(rows) for table, rows in before.items() if table != "connectsafely_send_counts"} == {
        "connectsafely_sends": 11,
        "connectsafely_enrollments": 3,
        "connectsafely_reply_watermarks": 1,
        "connectsafely_caps": 2,
        "connectsafely_trigger_state": 1,
    }
    ledger = open_ledger(url)
    assert ledger.schema_version() == "0005"

    ledger.ensure_schema()

    assert ledger.schema_version() == HEAD
    assert release_0_2_rows(url) == before
    assert schema_differences(url) == []
    # The database still keeps the counts equal to the rows they count.
    assert query(
        url,
        "SELECT day, account, campaign, kind, state, sends FROM connectsafely_send_counts WHERE sends > 0 "
        "ORDER BY 1, 2, 3, 4, 5",
    ) == query(
        url,
        "SELECT substr(CAST(updated_at AS TEXT), 1, 10), account, coalesce(campaign, ''), kind, state, "
        "count(*) FROM connectsafely_sends GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
    )
    # Sent and waiting sends still block a second claim; a final failure is not retried.
    for key in ("campaign:winter:ACoAAC1", "campaign:winter:ACoAAC0", "sequence:connect_first:1:ACoAAD2"):
        claim = ledger.claim(NewSend(key, "sales@example.com", key.rsplit(":", 1)[1]))
        assert not claim.claimed, key
    assert not ledger.claim(NewSend("campaign:winter:ACoAAC2", "sales@example.com", "ACoAAC2")).claimed
    states = {e.recipient: (e.state, e.step) for e in SequenceStore(ledger).enrollments("connect_first")}
    assert states == {"ACoAAD0": ("finished", 2), "ACoAAD1": ("replied", 1), "ACoAAD2": ("active", 1)}
    stored = TriggerStateStore(ledger).load("replies:connectsafely_default:sales@example.com")
    assert stored is not None and stored.version == 1
    ledger.close()


def test_the_printed_sql_brings_a_0_2_ledger_to_the_schema_a_task_would(url):
    load_0_1(url, "0_2")
    before = release_0_2_rows(url)
    _, script, _ = cli("upgrade", "--sql", "--url", url)
    run_script(url, script)
    assert query(url, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD,)]
    assert schema_differences(url) == []
    assert release_0_2_rows(url) == before


def test_an_upgraded_0_1_ledger_gets_the_do_not_contact_list_every_claim_checks(url):
    load_0_1(url)
    ledger = open_ledger(url)

    assert ledger.suppress("josé-person", reason="asked to stop", source="manual") == 1

    assert ledger.schema_version() == HEAD
    assert ledger.claim(NewSend("spring:new", "default", "José-Person")).suppressed is not None
    assert ledger.claim(NewSend("spring:other", "default", "someone")).claimed
    # A retryable failure written by 0.1 is refused again once its person is suppressed.
    retryable = ledger.get("spring:failed-retryable")
    ledger.suppress(retryable.recipient)
    assert ledger.claim(NewSend("spring:failed-retryable", "default", retryable.recipient)).suppressed
    assert query(url, "SELECT count(*) FROM connectsafely_erasures") == [(0,)]
    assert schema_differences(url) == []


def test_0008_adds_the_step_and_variant_of_each_send_to_an_upgraded_0_1_ledger(url):
    load_0_1(url)
    migrate_to(url, "0005")
    ledger = open_ledger(url)
    assert ledger.upgrade()

    assert query(url, "SELECT DISTINCT step, variant FROM connectsafely_sends") == [(None, None)]
    claim = ledger.claim(NewSend("sequence:q4:2:ann", "acct", "ann", step=2, variant="b"))
    ledger.mark_sent("sequence:q4:2:ann", claim.token, {"success": True})
    entry = ledger.get("sequence:q4:2:ann")
    assert (entry.step, entry.variant, entry.campaign) == (2, "b", "sequence:q4")
    assert ledger.get("spring:sent").variant is None
    assert schema_differences(url) == []
    assert kept_counts(url) == grouped_sends(url)


def test_0006_keeps_enrolments_and_adds_the_pages_columns_and_account_status(url):
    load_0_1(url)
    migrate_to(url, "0005")
    execute(
        url,
        "INSERT INTO connectsafely_enrollments (campaign, recipient, account, state, step, enrolled_at, "
        "updated_at, replied_at, reply_text) VALUES ('drip', 'ann', 'a', 'replied', 2, :t, :t, :t, 'hi')",
        {"t": NOW},
    )
    ledger = open_ledger(url)
    assert ledger.upgrade()

    assert query(
        url,
        "SELECT campaign, recipient, state, step, reply_text, accepted_at, skip_reason, skipped_at "
        "FROM connectsafely_enrollments",
    ) == [("drip", "ann", "replied", 2, "hi", None, None, None)]
    assert query(url, "SELECT count(*) FROM connectsafely_account_status") == [(0,)]
    assert schema_differences(url) == []
    ledger.close()
