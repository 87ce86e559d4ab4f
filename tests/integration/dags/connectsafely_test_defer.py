"""Test DAG: waiting out limits by deferring (the tests shrink the cap's day to seconds)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import (
    SendLinkedInMessageBatchOperator,
    SendLinkedInMessageOperator,
)

with DAG(
    dag_id="connectsafely_test_defer",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
) as dag:
    capped = SendLinkedInMessageBatchOperator(
        task_id="capped_batch",
        recipients=[{"recipient_profile_id": name} for name in ("cap-a", "cap-b", "cap-c")],
        message="Hello {{ recipient.recipient_profile_id }}",
        campaign="defer-{{ run_id }}",
        daily_limit=2,
    )
    rate_limited = SendLinkedInMessageOperator(
        task_id="rate_limited",
        recipient_profile_id="slow-sam",
        message="After the rate limit",
        max_rate_limit_wait=0,
    )
    capped >> rate_limited
