"""The message operator's templates rendered by Airflow in a real DAG run."""

from __future__ import annotations

from helpers.connections import API_KEY
from helpers.dag_runs import load_dag, rendered_fields, task_results

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator


def operator(**kwargs) -> SendLinkedInMessageOperator:
    kwargs.setdefault("task_id", "send")
    kwargs.setdefault("message", "Hello!")
    return SendLinkedInMessageOperator(**kwargs)


def test_templates_render_through_airflow(connection, airflow_db, monkeypatch):
    dag = load_dag("connectsafely_test_templating")
    run = dag.test()
    results = task_results(run)

    assert results[("inline", -1)][0] == "success"
    assert results[("from_file", -1)][0] == "success"
    # Renders to an empty message: failed at once, no retry, nothing sent.
    assert results[("renders_empty", -1)] == ("failed", None)

    sent = {m["recipientProfileId"] or m["recipientProfileUrn"]: m for m in connection.messages()}
    assert set(sent) == {"jane-roe", "urn:li:fsd_profile:ACoAAFile"}
    ds = run.logical_date.strftime("%Y-%m-%d") if run.logical_date else None
    assert sent["jane-roe"]["message"] == f"Hi Jane, report for {ds} is ready."
    inmail = sent["urn:li:fsd_profile:ACoAAFile"]
    assert inmail["messageType"] == "inmail" and inmail["subject"] == "Role for Jane"
    assert "Analytics Engineer opening" in inmail["message"]

    answer = results[("inline", -1)][1]
    assert isinstance(answer, dict) and answer["success"] is True
    rendered = rendered_fields(run)
    assert rendered[("inline", -1)]["recipient_profile_id"] == "https://www.linkedin.com/in/jane-roe/"
    assert API_KEY not in repr(rendered) and API_KEY not in repr(results)
