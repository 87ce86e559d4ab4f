"""The reply sensor in real DAG runs (dag.test() runs the trigger in line) against the emulator.

The DAG files leave ``deferrable`` unset on some sensors, so ``[operators] default_deferrable``
decides how those wait: each test runs with it on (they defer) and off (they poke).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from helpers.dag_runs import load_dag, task_results
from helpers.task_logs import by_task, captured_task_logs

#: What the sensor logs when it defers to the trigger.
DEFERRED = "Waiting in the triggerer for a reply"


@pytest.fixture(params=["True", "False"], ids=["default_deferrable", "default_poke"])
def default_deferrable(request, monkeypatch) -> bool:
    """Airflow's ``[operators] default_deferrable``, read when the DAG file is loaded."""
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", request.param)
    return request.param == "True"


def reads(emulator) -> list[str]:
    """The conversation reads the emulator answered (each sensor check, each trigger poll)."""
    return [r["path"] for r in emulator.requests() if r["method"] == "GET"]


def reply_when_conversation_appears(emulator, profile_id: str, text: str) -> threading.Thread:
    """Answer as ``profile_id`` once the DAG's send created the conversation."""

    def answer() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for conversation in emulator.conversations():
                if profile_id in conversation.get("participants", []):
                    time.sleep(0.5)
                    emulator.reply(conversation_urn=conversation["conversationUrn"], text=text)
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


def test_sensor_succeeds_with_the_reply(connection, airflow_db, monkeypatch, default_deferrable):
    # The emulator's send answer then names the conversation, which the sensor reads from XCom.
    monkeypatch.setattr(connection.state, "thread_in_send_answers", True)
    replier = reply_when_conversation_appears(connection, "reply-ria", "Sure, Tuesday works")

    dag = load_dag("connectsafely_test_reply_sensor")
    assert dag.get_task("wait_for_reply").deferrable is default_deferrable
    results = task_results(dag.test())
    replier.join(timeout=5)

    send_state, sent = results[("send", -1)]
    assert send_state == "success"
    for task_id in ("wait_for_reply", "poke_for_reply"):
        state, reply = results[(task_id, -1)]
        assert state == "success", task_id
        assert reply["text"] == "Sure, Tuesday works"
        assert reply["conversationUrn"] == sent["conversationUrn"]
        assert reply["messageUrn"].startswith("urn:li:msg_message:")
    assert [m["recipientProfileId"] for m in connection.messages()] == ["reply-ria"]  # sent once


def test_a_reply_already_there_ends_the_wait_without_a_trigger(connection, airflow_db, monkeypatch):
    """Each sensor checks once before it waits: a reply already there costs one read each,
    with no trigger polling after it, however the sensor waits."""
    monkeypatch.setattr(connection.state, "thread_in_send_answers", True)
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    # Dated after the run's start (the sensors' ``since``); the send lands in this conversation.
    early = connection.reply(
        profile_id="reply-ria", text="Saw it coming: yes", at=datetime.now(timezone.utc) + timedelta(hours=1)
    )

    dag = load_dag("connectsafely_test_reply_sensor")
    assert dag.get_task("wait_for_reply").deferrable is True
    with captured_task_logs() as lines:
        results = task_results(dag.test())
    logs = by_task(lines)

    for task_id in ("wait_for_reply", "poke_for_reply"):
        state, reply = results[(task_id, -1)]
        assert state == "success", task_id
        assert reply["messageUrn"] == early["messageUrn"]
        assert DEFERRED not in logs[task_id]
    assert len(reads(connection)) == 2  # one check per sensor


def test_sensor_times_out_and_soft_fail_skips(connection, airflow_db, monkeypatch, default_deferrable):
    monkeypatch.setattr(connection.state, "thread_in_send_answers", True)

    started = time.monotonic()
    with captured_task_logs() as lines:
        results = task_results(load_dag("connectsafely_test_reply_timeout").test())
    logs = by_task(lines)

    assert results[("send", -1)][0] == "success"
    assert results[("wait_deferred", -1)][0] == "skipped"
    assert results[("wait_poking", -1)][0] == "skipped"
    assert results[("wait_strict", -1)][0] == "failed"
    assert time.monotonic() - started < 60
    # No reply at the first check: the sensors without ``deferrable`` wait as the setting says.
    for task_id in ("wait_deferred", "wait_strict"):
        assert (DEFERRED in logs[task_id]) is default_deferrable, task_id
    assert DEFERRED not in logs["wait_poking"]
