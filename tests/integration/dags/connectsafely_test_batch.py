"""Test DAG: a batch with personalisation, bad rows and a per-recipient 404, plus a dry run."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageBatchOperator

RECIPIENTS = [
    {"recipient_profile_id": "https://www.linkedin.com/in/ann-lee/", "first_name": "Ann"},
    {"recipient_profile_urn": "urn:li:fsd_profile:ACoAABob", "first_name": "Bob"},
    {"profile_url": "https://www.linkedin.com/in/cy-young", "first_name": "Cy"},
    {"recipient_profile_id": "dee", "recipient_profile_urn": "urn:li:fsd_profile:D", "first_name": "Dee"},
    {"recipient_profile_id": "unknown-zed", "first_name": "Zed"},
]

with DAG(
    dag_id="connectsafely_test_batch",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"campaign": "test-batch"},
) as dag:
    preview = SendLinkedInMessageBatchOperator(
        task_id="preview",
        recipients=RECIPIENTS,
        message="Hi {{ recipient.first_name }}, news from {{ dag.dag_id }}.",
        campaign="{{ params.campaign }}",
        dry_run=True,
        max_failures=5,
    )
    send = SendLinkedInMessageBatchOperator(
        task_id="send",
        recipients=RECIPIENTS,
        message="Hi {{ recipient.first_name }}, news from {{ dag.dag_id }}.",
        campaign="{{ params.campaign }}",
        max_failures=2,
        progress_every=0,
    )
    preview >> send
