"""The sequence operator in real DAG runs (dag.test() against the emulator over loopback):
steps spaced by short waits, a reply between steps. Parallel runs: test_concurrency.py."""

from __future__ import annotations

import time

from helpers.dag_runs import load_dag, task_results

CAMPAIGN = "test-sequence"


def run(conf: dict | None = None) -> dict:
    dag_run = load_dag("connectsafely_test_sequence").test(run_conf=conf or {})
    [(state, result)] = task_results(dag_run).values()
    assert state == "success", result
    return result


def sent_texts(emulator) -> list[tuple[str, str]]:
    return [
        (m.get("recipientProfileId") or m.get("conversationUrn"), m["message"]) for m in emulator.messages()
    ]


def test_a_reply_between_steps_stops_the_sequence_for_that_person(connection, airflow_db):
    first = run()
    assert first["summary"]["sent_per_step"] == {"1": 3}
    assert {text for _who, text in sent_texts(connection)} == {
        "Hi Ann, step 1.",
        "Hi Bob, step 1.",
        "Hi Cy, step 1.",
    }
    connection.reply(profile_id="bob-ray", text="Interested, call me")
    time.sleep(2.2)
    second = run()
    by = {o["recipient"]: o for o in second["outcomes"]}
    assert by["bob-ray"]["status"] == "replied" and by["bob-ray"]["reply_text"] == "Interested, call me"
    assert second["summary"]["sent_per_step"] == {"2": 2}
    follow_ups = [m for m in connection.messages() if m["message"].startswith("Following up")]
    assert sorted(m["message"] for m in follow_ups) == ["Following up, Ann.", "Following up, Cy."]
    assert all(m.get("conversationUrn") for m in follow_ups)  # into the first step's conversation
    time.sleep(2.2)
    third = run()
    assert third["summary"]["finished"] == 2 and third["summary"]["replied"] == 1
    assert len(connection.messages()) == 3 + 2 + 2
    counts = connection.request_counts()
    reads = sum(n for path, n in counts.items() if path.startswith("GET "))
    assert reads <= 4  # reply detection: one listing per run, not one read per conversation
