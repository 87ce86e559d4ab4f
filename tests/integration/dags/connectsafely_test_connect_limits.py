"""Test DAG: a connection request on a 24 h hold (429), then the weekly cap reached."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.connections import SendLinkedInConnectionRequestOperator

with DAG(
    dag_id="connectsafely_test_connect_limits",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
) as dag:
    # The relationship read is skipped so that the test's queued 429 hits the connect itself.
    held = SendLinkedInConnectionRequestOperator(
        task_id="held",
        recipient_profile_id="held-hal",
        skip_if_connected=False,
        max_rate_limit_wait=0,
    )
    first = SendLinkedInConnectionRequestOperator(
        task_id="first", recipient_profile_id="cap-one", weekly_limit=2
    )
    capped_skip = SendLinkedInConnectionRequestOperator(
        task_id="capped_skip", recipient_profile_id="cap-two", weekly_limit=2, on_limit="skip"
    )
    capped_fail = SendLinkedInConnectionRequestOperator(
        task_id="capped_fail",
        recipient_profile_id="cap-three",
        weekly_limit=2,
        on_limit="fail",
        trigger_rule="all_done",
    )
    held >> first >> capped_skip >> capped_fail
