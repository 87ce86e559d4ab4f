"""A sequence that connects first, from two accounts, in real DAG runs (dag.test() against the
emulator over loopback): each step once, each person from one account, messages only after
acceptance."""

from __future__ import annotations

import time

from helpers.dag_runs import load_dag, task_results

CONNECT = "POST /linkedin/connect"
RELATIONSHIP = "GET /linkedin/relationship/{profileId}"


def run(**conf) -> dict:
    dag_run = load_dag("connectsafely_test_connect_sequence").test(run_conf=conf)
    [(state, result)] = task_results(dag_run).values()
    assert state == "success", result
    return result


def accounts_by_person(emulator) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for record in emulator.requests():
        body = record.get("body") or {}
        who = body.get("recipientProfileId") or body.get("profileId")
        if record["method"] == "POST" and record["status"] == 200 and who:
            found.setdefault(who, set()).add(body["accountId"])
    for message in emulator.messages():  # follow-ups name the conversation, not the person
        if message.get("recipientProfileId"):
            found.setdefault(message["recipientProfileId"], set()).add(message["accountId"])
    return found


def test_connect_first_then_message_after_acceptance_from_the_same_account(connection, airflow_db):
    first = run()
    assert first["summary"]["sent_per_step"] == {"1": 4}
    owners = accounts_by_person(connection)
    assert len({next(iter(a)) for a in owners.values()}) == 2  # both accounts invite

    connection.accept_invitation("bob-ray", account_id=next(iter(owners["bob-ray"])))
    connection.accept_invitation("di-park", account_id=next(iter(owners["di-park"])))
    second = run()
    assert second["summary"]["sent_per_step"] == {"2": 2}
    assert second["summary"]["waiting"] == 2
    time.sleep(1.2)
    third = run()
    assert third["summary"]["sent_per_step"] == {"3": 2}

    texts = sorted(m["message"] for m in connection.messages())
    assert texts == [
        "A follow-up, Bob.",
        "A follow-up, Di.",
        "Thanks for connecting, Bob.",
        "Thanks for connecting, Di.",
    ]
    follow_ups = [m for m in connection.messages() if m["message"].startswith("A follow-up")]
    assert all(m.get("conversationUrn") for m in follow_ups)
    for person, used in accounts_by_person(connection).items():
        assert len(used) == 1, (person, used)  # one person, one account
    counts = connection.request_counts()
    assert counts[CONNECT] == 4
    # the skip check before each invitation, then one read per person whose message was due
    assert counts[RELATIONSHIP] == 4 + 4 + 2
