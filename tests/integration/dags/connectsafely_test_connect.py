"""Test DAG: a templated connection request, and one whose note renders too long."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.connections import SendLinkedInConnectionRequestOperator

with DAG(
    dag_id="connectsafely_test_connect",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"person": "connie", "first_name": "Connie", "dedupe_key": ""},
) as dag:
    SendLinkedInConnectionRequestOperator(
        task_id="connect",
        recipient_profile_id="https://www.linkedin.com/in/{{ params.person }}/",
        note="Hi {{ params.first_name }}, I liked your talk at {{ dag.dag_id }}.",
        dedupe_key="{{ params.dedupe_key }}",
    )
    SendLinkedInConnectionRequestOperator(
        task_id="note_too_long",
        recipient_profile_id="long-lee",
        note="{{ 'x' * 301 }}",
        retries=2,
        retry_delay=timedelta(seconds=0),
    )
