"""Campaign asset events in real DAG runs (dag.test() against the emulator): every kind of
send task gives its ``connectsafely://campaign/<name>`` outlet an extra summarising the run."""

from __future__ import annotations

from helpers.dag_runs import load_dag, task_results


def asset_events(run) -> dict[str, dict]:
    """``{uri: extra}`` of the asset events the run emitted."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter_by(source_dag_id=run.dag_id, source_run_id=run.run_id)
        return {event.asset.uri: dict(event.extra or {}) for event in events}


def test_each_send_task_summarises_its_run_in_its_campaign_event(connection, airflow_db):
    run = load_dag("connectsafely_test_campaign_events").test()
    assert {state for state, _ in task_results(run).values()} == {"success"}
    events = asset_events(run)
    assert set(events) == {
        "connectsafely://campaign/events-batch",
        "crm://elsewhere/",
        "connectsafely://campaign/events-single",
        "connectsafely://campaign/events-connect",
        "connectsafely://campaign/events-sequence",
    }
    assert events["crm://elsewhere/"] == {}  # not a campaign asset: left as it is

    batch = events["connectsafely://campaign/events-batch"]
    assert batch["campaign"] == "events-batch" and batch["dry_run"] is False
    assert batch["source"] == {
        "dag_id": run.dag_id,
        "task_id": "batch",
        "run_id": run.run_id,
        "map_index": -1,
    }
    assert batch["counts"]["sent"] == 1 and batch["counts"]["failed"] == 1 and batch["counts"]["total"] == 2
    sent, failed = batch["outcomes"]
    assert (sent["recipient"], sent["status"]) == ("events-ann", "sent") and "message" not in sent
    assert failed["status"] == "failed" and "recipient" in failed["reason"]
    assert batch["emitted_at"].endswith("+00:00")

    single = events["connectsafely://campaign/events-single"]
    assert single["campaign"] == "events-single"  # no campaign on the task: the asset's name
    assert single["counts"] == {"sent": 1}
    assert [(o["recipient"], o["status"]) for o in single["outcomes"]] == [("events-bob", "sent")]

    connect = events["connectsafely://campaign/events-connect"]
    assert [(o["recipient"], o["status"]) for o in connect["outcomes"]] == [("events-cy", "sent")]

    sequence = events["connectsafely://campaign/events-sequence"]
    assert sequence["campaign"] == "events-sequence" and sequence["counts"]["enrolled"] == 1
    [row] = sequence["outcomes"]
    assert (row["recipient"], row["status"], row["state"], row["step"]) == (
        "events-dee",
        "sent",
        "finished",
        1,
    )
