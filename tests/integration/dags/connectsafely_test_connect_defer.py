"""Test DAG: a connection request deferred until the weekly cap's window resets (the test
fills the cap and shrinks the week)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.connections import SendLinkedInConnectionRequestOperator

with DAG(
    dag_id="connectsafely_test_connect_defer",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
) as dag:
    SendLinkedInConnectionRequestOperator(
        task_id="capped_defer", recipient_profile_id="cap-dee", weekly_limit=1
    )
