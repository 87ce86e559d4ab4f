"""The batch operator in real DAG runs (dag.test() against the emulator): retries, deferral and resume."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from helpers.connections import connection_json
from helpers.dag_runs import load_dag, task_results

from airflow_provider_connectsafely.outreach import caps


def test_batch_sends_personalised_messages_and_records_every_outcome(connection, airflow_db):
    run = load_dag("connectsafely_test_batch").test()
    results = task_results(run)
    assert results[("preview", -1)][0] == "success"
    assert results[("send", -1)][0] == "success"

    preview = results[("preview", -1)][1]
    assert preview["summary"]["would_send"] == 4 and preview["summary"]["failed"] == 1
    assert preview["summary"]["dry_run"] is True

    result = results[("send", -1)][1]
    statuses = {o["recipient"]: o["status"] for o in result["outcomes"]}
    assert statuses == {
        "ann-lee": "sent",
        "urn:li:fsd_profile:ACoAABob": "sent",
        "cy-young": "sent",
        "dee": "failed",  # both recipient fields: invalid
        "unknown-zed": "failed",  # 404 from the API
    }
    assert result["summary"] == {
        "total": 5,
        "dry_run": False,
        "sent": 3,
        "skipped": 0,
        "in_flight": 0,
        "failed": 2,
        "unknown": 0,
        "not_attempted": 0,
        "would_send": 0,
    }
    by_recipient = {m["recipientProfileId"] or m["recipientProfileUrn"]: m for m in connection.messages()}
    assert by_recipient["ann-lee"]["message"] == "Hi Ann, news from connectsafely_test_batch."
    assert set(by_recipient) == {"ann-lee", "urn:li:fsd_profile:ACoAABob", "cy-young"}

    # A second run of the same campaign sends nothing new.
    connection.reset()
    again = task_results(load_dag("connectsafely_test_batch").test())[("send", -1)][1]
    assert again["summary"]["skipped"] == 3 and again["summary"]["sent"] == 0
    assert connection.messages() == []
    assert [r["body"]["recipientProfileId"] for r in connection.requests()] == ["unknown-zed"]


def test_retry_of_a_sent_task_does_not_resend(connection, airflow_db):
    run = load_dag("connectsafely_test_retry").test()
    state, answer = task_results(run)[("send", -1)]
    assert state == "success"
    assert answer["success"] is True
    assert [m["recipientProfileId"] for m in connection.messages()] == ["retry-rita"]


def test_deferral_and_resume_in_a_real_run(connection, airflow_db, monkeypatch, emulator):
    second_account = emulator.state.accounts[1].id
    monkeypatch.setenv(
        "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", connection_json(emulator.url, account_id=second_account)
    )

    def short_window(now: datetime) -> tuple[datetime, datetime]:
        start = now.replace(microsecond=0) - timedelta(seconds=now.second % 3)
        return start, start + timedelta(seconds=3)

    monkeypatch.setattr(caps, "window", short_window)
    emulator.inject("rate_limit_hold_until", seconds=2, match={"recipientProfileId": "slow-sam"})
    run = load_dag("connectsafely_test_defer").test()
    results = task_results(run)
    assert results[("capped_batch", -1)][0] == "success"
    assert results[("rate_limited", -1)][0] == "success"
    batch = results[("capped_batch", -1)][1]
    assert Counter(o["status"] for o in batch["outcomes"]) == {"sent": 3}
    sends = [m for m in emulator.messages() if m["recipientProfileId"].startswith("cap-")]
    assert len(sends) == 3
    gap = datetime.fromisoformat(sends[2]["at"]) - datetime.fromisoformat(sends[1]["at"])
    assert gap >= timedelta(seconds=0.5)  # the third waited for the next window
    statuses = [r["status"] for r in emulator.requests() if r["body"].get("recipientProfileId") == "slow-sam"]
    assert statuses == [429, 200]


def test_the_task_instance_links_to_the_ledger_page_with_its_rendered_campaign(connection, airflow_db):
    """The worker computes the "ConnectSafely ledger" link when the task ends, with the
    rendered campaign, and keeps it in XCom, where the UI reads it."""
    import json
    from urllib.parse import parse_qs, urlsplit

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    run = load_dag("connectsafely_test_batch").test()
    with create_session() as session:
        [stored] = [
            x.value
            for x in session.query(XComModel).filter_by(
                dag_id=run.dag_id, run_id=run.run_id, task_id="send", key="_link_ConnectSafelyLedgerLink"
            )
        ]
    link = json.loads(stored) if isinstance(stored, str) and stored.startswith('"') else stored
    assert urlsplit(link).path == "/connectsafely/"
    assert parse_qs(urlsplit(link).query) == {"campaign": ["batch:test-batch"], "run_id": [run.run_id]}
