"""The reply sensor in real DAG runs (dag.test() runs the trigger in line) against the emulator."""

from __future__ import annotations

import threading
import time

from helpers.dag_runs import load_dag, task_results


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


def test_sensor_succeeds_with_the_reply(connection, airflow_db, monkeypatch):
    # The emulator's send answer then names the conversation, which the sensor reads from XCom.
    monkeypatch.setattr(connection.state, "thread_in_send_answers", True)
    replier = reply_when_conversation_appears(connection, "reply-ria", "Sure, Tuesday works")

    results = task_results(load_dag("connectsafely_test_reply_sensor").test())
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


def test_sensor_times_out_and_soft_fail_skips(connection, airflow_db, monkeypatch):
    monkeypatch.setattr(connection.state, "thread_in_send_answers", True)

    started = time.monotonic()
    results = task_results(load_dag("connectsafely_test_reply_timeout").test())

    assert results[("send", -1)][0] == "success"
    assert results[("wait_deferred", -1)][0] == "skipped"
    assert results[("wait_poking", -1)][0] == "skipped"
    assert results[("wait_strict", -1)][0] == "failed"
    assert time.monotonic() - started < 60
