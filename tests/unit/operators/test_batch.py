"""The batch operator and the send ledger through real Airflow runs (``dag.test()``)."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from helpers.connections import connection_json

from airflow_provider_connectsafely.clock import from_iso
from airflow_provider_connectsafely.compat import AirflowException, AirflowFailException, TaskDeferred
from airflow_provider_connectsafely.operators.messaging import (
    SendLinkedInMessageBatchOperator,
    SendLinkedInMessageOperator,
)
from airflow_provider_connectsafely.outreach import caps


def fake_context(
    run_id: str = "manual__1", task_id: str = "t", try_number: int = 1, map_index: int = -1
) -> dict:
    ti = SimpleNamespace(
        dag_id="d", task_id=task_id, run_id=run_id, map_index=map_index, try_number=try_number
    )
    ti.xcom_push = lambda key, value: setattr(ti, f"xcom_{key}", value)
    return {"ti": ti, "run_id": run_id}


def test_rerun_of_the_same_run_returns_the_recorded_answer(connection):
    op = SendLinkedInMessageOperator(task_id="t", recipient_profile_id="rerun-rob", message="hi")
    first = op.execute(fake_context("scheduled__rerun"))
    again = SendLinkedInMessageOperator(task_id="t", recipient_profile_id="rerun-rob", message="hi")
    assert again.execute(fake_context("scheduled__rerun")) == first
    assert len(connection.messages()) == 1
    # The next scheduled run sends again: the default key includes the run id.
    SendLinkedInMessageOperator(task_id="t", recipient_profile_id="rerun-rob", message="hi").execute(
        fake_context("scheduled__next")
    )
    assert len(connection.messages()) == 2


def test_a_user_dedupe_key_holds_across_runs(connection):
    for run_id in ("r1", "r2", "r3"):
        SendLinkedInMessageOperator(
            task_id="t", recipient_profile_id="key-kim", message="welcome", dedupe_key="welcome-kim"
        ).execute(fake_context(run_id))
    assert len(connection.messages()) == 1


def test_unknown_outcome_fails_the_next_try_with_a_way_out(connection):
    connection.inject("error", status=502, shape="html", deliver=True)
    with pytest.raises(AirflowFailException, match="may or may not have been delivered"):
        SendLinkedInMessageOperator(task_id="t", recipient_profile_id="ulla", message="hi").execute(
            fake_context("u1")
        )
    with pytest.raises(AirflowFailException, match="on_unknown='resend'"):
        SendLinkedInMessageOperator(task_id="t", recipient_profile_id="ulla", message="hi").execute(
            fake_context("u1")
        )
    assert len(connection.requests()) == 1
    SendLinkedInMessageOperator(
        task_id="t", recipient_profile_id="ulla", message="hi", on_unknown="resend"
    ).execute(fake_context("u1"))
    assert len(connection.requests()) == 2


def test_ledger_off_switch(connection):
    for _ in range(2):
        SendLinkedInMessageOperator(
            task_id="t", recipient_profile_id="nolan", message="hi", use_ledger=False
        ).execute(fake_context("same"))
    assert len(connection.messages()) == 2


def test_cap_reached_defers_until_the_reset(connection):
    op = SendLinkedInMessageOperator(
        task_id="t", recipient_profile_id="capped", message="hi", daily_limit=1, dedupe_key="cap-1"
    )
    op.execute(fake_context("c1"))
    second = SendLinkedInMessageOperator(
        task_id="t", recipient_profile_id="capped2", message="hi", daily_limit=1, dedupe_key="cap-2"
    )
    with pytest.raises(TaskDeferred) as info:
        second.execute(fake_context("c1"))
    tomorrow = caps.window(datetime.now(timezone.utc))[1]
    assert info.value.trigger.moment >= tomorrow
    assert info.value.method_name == "execute_complete"
    skip = SendLinkedInMessageOperator(
        task_id="t", recipient_profile_id="capped3", message="hi", daily_limit=1, on_limit="skip"
    )
    from airflow_provider_connectsafely.compat import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="Daily limit of 1"):
        skip.execute(fake_context("c1"))
    short = SendLinkedInMessageOperator(
        task_id="t", recipient_profile_id="capped4", message="hi", daily_limit=1, max_defer=60
    )
    with pytest.raises(AirflowException, match="beyond max_defer"):
        short.execute(fake_context("c1"))
    assert len(connection.messages()) == 1


def test_each_cap_wait_starts_the_max_defer_budget_again_but_api_holds_add_up(connection):
    """A batch longer than one day's cap goes on night after night; 429 holds are bounded."""
    people = [{"recipient_profile_id": f"night-{n}"} for n in range(3)]
    batch = SendLinkedInMessageBatchOperator(task_id="b", recipients=people, message="hi", daily_limit=1)
    long_ago = (datetime.now(timezone.utc) - timedelta(hours=30)).isoformat()
    with pytest.raises(TaskDeferred) as info:
        batch.execute_complete(fake_context("n1"), deferred_since=long_ago)
    assert info.value.kwargs == {"deferred_since": None}
    assert len(connection.messages()) == 1

    connection.inject("rate_limit_hold_until", seconds=7200)
    held = SendLinkedInMessageOperator(task_id="t", recipient_profile_id="held", message="hi")
    with pytest.raises(TaskDeferred) as first:
        held.execute(fake_context("h1"))
    assert first.value.kwargs["deferred_since"] is not None
    connection.inject("rate_limit_hold_until", seconds=7200)
    with pytest.raises(AirflowException, match="beyond max_defer"):
        held.execute_complete(fake_context("h1"), deferred_since=long_ago)


def test_dry_run_sends_nothing_and_validates_everything(connection):
    op = SendLinkedInMessageBatchOperator(
        task_id="dry",
        recipients=[{"recipient_profile_id": "a", "n": 1}, {"recipient_profile_id": ""}, "b"],
        message="Item {{ recipient.n | default('?') }}",
        dry_run=True,
        max_failures=1,
    )
    result = op.execute(fake_context("dry"))
    assert [o["status"] for o in result["outcomes"]] == ["would_send", "failed", "would_send"]
    assert result["outcomes"][0]["message"] == "Item 1"
    assert "recipient_profile_id" in result["outcomes"][1]["reason"]
    assert connection.requests() == []


def test_too_many_failures_fail_the_task_after_recording_everything(connection):
    op = SendLinkedInMessageBatchOperator(
        task_id="fails",
        recipients=[{"recipient_profile_id": "unknown-1"}, {"recipient_profile_id": "fine-1"}],
        message="hi",
        campaign="fails",
    )
    context = fake_context("f1")
    with pytest.raises(AirflowFailException, match="more than max_failures=0"):
        op.execute(context)
    recorded = context["ti"].xcom_outcomes
    assert [o["status"] for o in recorded["outcomes"]] == ["failed", "sent"]


def test_bad_api_key_stops_the_batch_at_once(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", connection_json(emulator.url, key="wrong-key-1"))
    op = SendLinkedInMessageBatchOperator(
        task_id="stop",
        recipients=[{"recipient_profile_id": f"p{n}"} for n in range(5)],
        message="hi",
        campaign="stop",
    )
    context = fake_context("s1")
    with pytest.raises(AirflowFailException, match="stopped at once"):
        op.execute(context)
    assert len(emulator.requests()) == 1
    statuses = [o["status"] for o in context["ti"].xcom_outcomes["outcomes"]]
    assert statuses == ["failed"] + ["not_attempted"] * 4


def test_pacing_spaces_the_sends(connection):
    op = SendLinkedInMessageBatchOperator(
        task_id="paced",
        recipients=["p1", "p2", "p3"],
        message="hi",
        campaign="paced",
        min_interval=0.3,
        jitter=0.0,
    )
    op.execute(fake_context("p"))
    times = [from_iso(m["at"]) for m in connection.messages()]
    assert all(b - a >= timedelta(seconds=0.25) for a, b in itertools.pairwise(times))


def test_recipients_from_sql(connection, tmp_path, monkeypatch):
    import sqlite3

    db = tmp_path / "crm.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE people (recipient_profile_id TEXT, first_name TEXT)")
        conn.executemany("INSERT INTO people VALUES (?, ?)", [("sql-sue", "Sue"), ("sql-sid", "Sid")])
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    op = SendLinkedInMessageBatchOperator(
        task_id="sql",
        recipients_sql="SELECT recipient_profile_id, first_name FROM people ORDER BY first_name",
        recipients_conn_id="crm_db",
        message="Hi {{ recipient.first_name }}",
        campaign="sql",
    )
    result = op.execute(fake_context("sql"))
    assert [o["recipient"] for o in result["outcomes"]] == ["sql-sid", "sql-sue"]
    assert [m["message"] for m in connection.messages()] == ["Hi Sid", "Hi Sue"]


@pytest.fixture
def crm_db(tmp_path, monkeypatch):
    """A SQLite CRM behind the connection ``crm_db`` (apache-airflow-providers-sqlite)."""
    import sqlite3

    db = tmp_path / "crm.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE people (recipient_profile_id TEXT, first_name TEXT, company TEXT)")
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?)",
            [("bp-ann", "Ann", "Acme"), ("bp-bea", "Bea", "O'Hara & Sons"), ("bp-cal", "Cal", "Acme")],
        )
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    return db


def sql_batch(sql: str, parameters, **kwargs) -> SendLinkedInMessageBatchOperator:
    return SendLinkedInMessageBatchOperator(
        task_id="sql",
        recipients_sql=sql,
        recipients_conn_id="crm_db",
        recipients_parameters=parameters,
        message="Hi {{ recipient.first_name }}",
        **kwargs,
    )


@pytest.mark.parametrize(
    ("sql", "parameters"),
    [
        ("SELECT * FROM people WHERE company = :company ORDER BY first_name", {"company": "Acme"}),
        ("SELECT * FROM people WHERE company = ? ORDER BY first_name", ["Acme"]),
        ("SELECT * FROM people WHERE company = ? ORDER BY first_name", ("Acme",)),
    ],
)
def test_recipients_sql_binds_parameters_and_reads_only_the_matching_rows(
    connection, crm_db, sql, parameters
):
    result = sql_batch(sql, parameters, campaign="bind").execute(fake_context("bind"))
    assert [o["recipient"] for o in result["outcomes"]] == ["bp-ann", "bp-cal"]
    assert [m["message"] for m in connection.messages()] == ["Hi Ann", "Hi Cal"]


def test_a_quote_in_a_bound_value_is_data_not_sql(connection, crm_db):
    import sqlite3

    sql = "SELECT * FROM people WHERE company = :company"
    result = sql_batch(sql, {"company": "O'Hara & Sons"}, campaign="q").execute(fake_context("q"))
    assert [o["recipient"] for o in result["outcomes"]] == ["bp-bea"]
    # What formatting into the SQL would turn into "every row" matches nothing.
    injected = sql_batch(sql, {"company": "x' OR '1'='1"}, campaign="q2").execute(fake_context("q2"))
    assert injected["outcomes"] == [] and [m["recipientProfileId"] for m in connection.messages()] == [
        "bp-bea"
    ]
    with sqlite3.connect(crm_db) as conn:
        assert conn.execute("SELECT count(*) FROM people").fetchone() == (3,)


@pytest.mark.parametrize("parameters", ["{{ params.company }}", "{% if true %}Acme{% endif %}"])
def test_recipients_parameters_rendering_to_text_fail_before_any_request(connection, crm_db, parameters):
    """A whole-field template passes the parse-time check and renders to a string: refused
    before the query and any request, without retries (AirflowFailException)."""
    op = sql_batch("SELECT * FROM people WHERE company = ?", parameters)
    with pytest.raises(
        AirflowFailException, match=r"Invalid `recipients_parameters`.*got str.*template each value"
    ):
        op.execute(fake_context("bad-params"))
    assert connection.requests() == []


@pytest.mark.parametrize("parameters", ["Acme", b"Acme", 5, {"Acme"}])
def test_bad_recipients_parameters_fail_when_the_dag_is_parsed(parameters):
    with pytest.raises(
        ValueError, match=r"Invalid `recipients_parameters`.*Fix: pass the values as a dict or a list"
    ):
        sql_batch("SELECT * FROM people WHERE company = ?", parameters)


def test_recipients_parameters_from_an_upstream_task_are_checked_when_resolved():
    from airflow.sdk import DAG, task

    with DAG("params_from_xcom", schedule=None):

        @task
        def segment() -> dict:
            return {"company": "Acme"}

        op = sql_batch("SELECT * FROM people WHERE company = :company", segment())
    assert op.recipients_parameters is not None  # an XComArg: resolved when the task runs


def test_bad_recipients_parameters_after_rendering_fail_before_any_request(connection, crm_db):
    op = sql_batch("SELECT * FROM people WHERE company = ?", ["Acme"])
    op.recipients_parameters = 42  # e.g. an upstream task's output, resolved at run time
    with pytest.raises(AirflowFailException, match=r"Invalid `recipients_parameters`.*got int"):
        op.execute(fake_context("bad-params"))
    assert connection.requests() == []


def test_recipients_parameters_need_recipients_sql():
    from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

    with pytest.raises(ValueError, match="recipients_parameters binds values into recipients_sql"):
        SendLinkedInMessageBatchOperator(
            task_id="t", recipients=["x"], recipients_parameters=[1], message="hi"
        )
    with pytest.raises(ValueError, match="recipients_parameters binds values into recipients_sql"):
        LinkedInSequenceOperator(
            task_id="t",
            campaign="c",
            recipients=["x"],
            recipients_parameters={"a": 1},
            steps=[SequenceStep("hi")],
        )


def test_a_query_refused_as_written_fails_without_retries(connection, crm_db):
    op = sql_batch("SELECT * FROM people WHERE company = ? AND first_name = ?", ["Acme"])
    with pytest.raises(
        AirflowFailException, match=r"recipients_sql was refused: ProgrammingError.*one value per placeholder"
    ):
        op.execute(fake_context("refused"))
    assert connection.requests() == []


def test_recipients_conn_id_must_be_a_database(connection, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NOT_A_DB", json.dumps({"conn_type": "connectsafely", "host": "x"}))
    op = SendLinkedInMessageBatchOperator(
        task_id="t", recipients_sql="SELECT 1", recipients_conn_id="not_a_db", message="hi"
    )
    with pytest.raises(AirflowFailException, match="runs no SQL"):
        op.execute(fake_context("nodb"))
    missing = SendLinkedInMessageBatchOperator(
        task_id="t", recipients_sql="SELECT 1", recipients_conn_id="no_such_crm", message="hi"
    )
    with pytest.raises(AirflowFailException, match="Recipients connection 'no_such_crm' is not defined"):
        missing.execute(fake_context("nodb"))
    assert connection.requests() == []


def test_recipients_must_be_a_list(connection):
    op = SendLinkedInMessageBatchOperator(task_id="bad", recipients={"a": 1}, message="hi")
    with pytest.raises(AirflowFailException, match="Invalid `recipients`"):
        op.execute(fake_context("bad"))


@pytest.mark.parametrize(("name", "value"), [("on_unknown", "retry"), ("on_limit", "wait")])
def test_policy_typos_fail_when_the_dag_is_parsed(name, value):
    with pytest.raises(ValueError, match=name):
        SendLinkedInMessageOperator(task_id="t", recipient_profile_id="x", message="hi", **{name: value})


def test_mapped_sends_dedupe_by_recipient_not_by_map_index(connection):
    """A cleared run may map the same recipients in another order: no one is messaged twice."""
    for map_index, recipients in enumerate((["ada", "alan"], ["alan", "ada"])):
        for offset, name in enumerate(recipients):
            SendLinkedInMessageOperator(task_id="t", recipient_profile_id=name, message="hi").execute(
                fake_context("mapped-run", map_index=offset + 10 * map_index)
            )
    assert sorted(m["recipientProfileId"] for m in connection.messages()) == ["ada", "alan"]


def test_an_undefined_ledger_connection_fails_without_retries(connection):
    op = SendLinkedInMessageOperator(
        task_id="t", recipient_profile_id="x", message="hi", ledger_conn_id="no_such_ledger"
    )
    with pytest.raises(AirflowFailException, match="Ledger connection 'no_such_ledger' is not defined"):
        op.execute(fake_context("l1"))
    assert connection.requests() == []


def test_negative_daily_limit_is_refused_at_parse_time():
    with pytest.raises(ValueError, match="daily_limit"):
        SendLinkedInMessageOperator(task_id="t", recipient_profile_id="x", message="hi", daily_limit=-1)


def test_conversation_sends_record_the_thread_and_a_rerun_returns_it(connection):
    op = SendLinkedInMessageOperator(
        task_id="t", recipient_profile_id="conv-cara", message="hi", endpoint="conversations"
    )
    first = op.execute(fake_context("conv-1"))
    assert first["conversationUrn"].startswith("urn:li:msg_conversation:") and first["threadId"]
    again = SendLinkedInMessageOperator(
        task_id="t", recipient_profile_id="conv-cara", message="hi", endpoint="conversations"
    ).execute(fake_context("conv-1"))
    assert again == first
    # a follow-up named by its conversation alone dedupes on the conversation
    for _ in range(2):
        follow = SendLinkedInMessageOperator(
            task_id="f", conversation_urn=first["conversationUrn"], message="ping", endpoint="conversations"
        ).execute(fake_context("conv-1"))
    assert follow["conversationUrn"] == first["conversationUrn"]
    assert [m["message"] for m in connection.messages()] == ["hi", "ping"]


def test_batch_over_the_conversations_endpoint(connection):
    op = SendLinkedInMessageBatchOperator(
        task_id="conv",
        recipients=["cb-1", "cb-2"],
        message="hi",
        campaign="conv",
        endpoint="conversations",
    )
    result = op.execute(fake_context("cb"))
    assert [o["status"] for o in result["outcomes"]] == ["sent", "sent"]
    assert all(o["conversationUrn"] and o["threadId"] for o in result["outcomes"])
    assert {r["path"] for r in connection.requests()} == {"/linkedin/conversations/send"}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"endpoint": "inbox"}, "endpoint"),
        ({"endpoint": "conversations", "message_type": "inmail"}, "message_type"),
    ],
)
def test_endpoint_typos_fail_when_the_dag_is_parsed(kwargs, words):
    with pytest.raises(ValueError, match=words):
        SendLinkedInMessageOperator(task_id="t", recipient_profile_id="x", message="hi", **kwargs)
    with pytest.raises(ValueError, match=words):
        SendLinkedInMessageBatchOperator(task_id="b", recipients=["x"], message="hi", **kwargs)


def test_a_ledger_database_that_is_down_fails_the_try_with_a_clear_retryable_error(connection, monkeypatch):
    from helpers.airflow_server import free_port

    url = f"postgresql+psycopg://ops:s3cret-pw@127.0.0.1:{free_port()}/ledger?connect_timeout=2"
    monkeypatch.setenv(
        "AIRFLOW_CONN_DOWN_LEDGER", json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": url}})
    )
    batch = SendLinkedInMessageBatchOperator(
        task_id="b", recipients=["dora"], message="hi", ledger_conn_id="down_ledger"
    )
    with pytest.raises(AirflowException) as info:
        batch.execute(fake_context("down"))
    message = str(info.value)
    assert not isinstance(info.value, AirflowFailException)  # retries apply
    assert message.startswith("The send ledger (postgresql+psycopg://ops:***@127.0.0.1:")
    assert "carries on without sending twice" in message and "s3cret-pw" not in message
    assert connection.requests() == []
