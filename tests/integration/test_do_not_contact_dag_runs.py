"""The do-not-contact list in real DAG runs (dag.test() against the emulator): every send path
skips a suppressed person with reason ``suppressed``, and none calls the API more than before
(the emulator's request log is the measure)."""

from __future__ import annotations

import time

import pytest
from helpers.dag_runs import load_dag, task_results

from airflow_provider_connectsafely.ledger.records import NewSend
from airflow_provider_connectsafely.ledger.store import SendLedger


@pytest.fixture
def ledger(isolated_default_ledger):
    """The default ledger the tasks of these runs use."""
    store = SendLedger.sqlite(isolated_default_ledger)
    yield store
    store.close()


def requested(emulator) -> list[str]:
    return [
        r["body"].get("recipientProfileId") or r["body"].get("recipientProfileUrn")
        for r in emulator.requests()
    ]


def test_a_batch_skips_suppressed_recipients_and_asks_the_api_about_them_no_more(
    connection, airflow_db, ledger
):
    ledger.suppress("ann-lee", reason="asked to stop", source="manual")
    ledger.suppress("urn:li:fsd_profile:ACoAABob", scope="test-batch", source="import")

    results = task_results(load_dag("connectsafely_test_batch").test())

    preview = results[("preview", -1)][1]
    assert preview["summary"]["would_send"] == 2 and preview["summary"]["skipped"] == 2
    result = results[("send", -1)][1]
    by = {o["recipient"]: o for o in result["outcomes"]}
    assert {who: o["status"] for who, o in by.items()} == {
        "ann-lee": "skipped",
        "urn:li:fsd_profile:ACoAABob": "skipped",
        "cy-young": "sent",
        "dee": "failed",
        "unknown-zed": "failed",
    }
    assert by["ann-lee"]["reason"].startswith("suppressed: on the do-not-contact list everywhere")
    assert by["urn:li:fsd_profile:ACoAABob"]["reason"].startswith("suppressed: ")
    assert "asked to stop" not in by["ann-lee"]["reason"]  # the note stays in the ledger
    # Without the list this run makes 4 requests (ann, bob, cy, zed); the suppressed cost none.
    assert sorted(requested(connection)) == ["cy-young", "unknown-zed"]
    assert ledger.get("campaign:test-batch:ann-lee") is None


def test_a_sequence_ends_the_enrolment_of_a_person_suppressed_between_steps(connection, airflow_db, ledger):
    from airflow_provider_connectsafely.ledger.sequences import SUPPRESSED, SequenceStore

    first = task_results(load_dag("connectsafely_test_sequence").test())[("outreach", -1)][1]
    assert first["summary"]["sent_per_step"] == {"1": 3}
    ledger.suppress("bob-ray", scope="sequence:test-sequence")
    time.sleep(2.2)
    before = len(connection.requests())

    second = task_results(load_dag("connectsafely_test_sequence").test())[("outreach", -1)][1]

    by = {o["recipient"]: o for o in second["outcomes"]}
    assert by["bob-ray"]["status"] == "skipped" and by["bob-ray"]["reason"].startswith("suppressed")
    assert second["summary"]["sent_per_step"] == {"2": 2}
    follow_ups = sorted(m["message"] for m in connection.messages() if m["message"].startswith("Following"))
    assert follow_ups == ["Following up, Ann.", "Following up, Cy."]
    assert len(connection.requests()) - before <= 2 + 1  # the two follow-ups and the reply read
    enrolment = SequenceStore(ledger).get_many("test-sequence", ["bob-ray"])["bob-ray"]
    assert enrolment.state == SUPPRESSED and enrolment.step == 1
    third = task_results(load_dag("connectsafely_test_sequence").test())[("outreach", -1)][1]
    assert "bob-ray" not in {o["recipient"] for o in third["outcomes"]}


def test_a_connection_request_to_a_suppressed_person_is_skipped_without_a_request(
    connection, airflow_db, ledger
):
    ledger.suppress("https://www.linkedin.com/in/connie/")

    results = task_results(load_dag("connectsafely_test_connect").test())

    state, _answer = results[("connect", -1)]
    assert state == "skipped"  # as for any request not sent now; the reason is in the task log
    assert not [r for r in connection.requests() if r["body"].get("profileId") == "connie"]
    assert ledger.get("connect:default:connie") is None


def test_the_notifier_skips_a_suppressed_recipient_unless_told_otherwise(connection, airflow_db, ledger):
    ledger.suppress("data-owner")

    load_dag("connectsafely_test_notifier").test()

    recipients = [m["recipientProfileId"] or m["recipientProfileUrn"] for m in connection.messages()]
    assert "data-owner" not in recipients
    assert recipients == ["on-call-engineer", "urn:li:fsd_profile:ACoAAOnCall"]


def test_a_single_message_to_a_suppressed_person_is_skipped(connection, airflow_db, ledger):
    ledger.suppress("retry-rita")

    state, _answer = task_results(load_dag("connectsafely_test_retry").test())[("send", -1)]

    assert state == "skipped"
    assert connection.requests() == []


def test_an_opt_out_reply_in_a_sequence_suppresses_the_person_everywhere(connection, airflow_db, ledger):
    task_results(load_dag("connectsafely_test_sequence").test())
    connection.reply(profile_id="bob-ray", text="Please remove me from your list.\nThanks, Bob")
    connection.reply(profile_id="cy-young", text="Stop by our booth next week")
    time.sleep(2.2)

    second = task_results(load_dag("connectsafely_test_sequence").test())[("outreach", -1)][1]

    by = {o["recipient"]: o["status"] for o in second["outcomes"]}
    assert by["bob-ray"] == "replied" and by["cy-young"] == "replied"
    entries = ledger.suppressions()  # bob-ray, and the URN the API answered for him
    assert {e.person for e in entries} == {
        "bob-ray",
        *{e.person for e in entries if e.person.startswith("urn:")},
    }
    assert len(entries) == 2
    assert {(e.scope, e.source, e.reason) for e in entries} == {
        ("", "reply", "Please remove me from your list.")
    }
    assert ledger.claim(NewSend("campaign:other:bob-ray", "default", "bob-ray")).suppressed is not None
