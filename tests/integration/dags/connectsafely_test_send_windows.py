"""Test DAG: sending windows. The test passes the windows in ``run_conf``, built around the
moment it starts the run (see tests/integration/test_send_windows_dag_runs.py)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import (
    SendLinkedInMessageBatchOperator,
    SendLinkedInMessageOperator,
)
from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

OPEN = "Mon-Sun 00:00-24:00"

with DAG(
    dag_id="connectsafely_test_send_windows",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"batch_window": OPEN, "sequence_window": OPEN, "closed_window": OPEN, "bad_tz": "UTC"},
    default_args={"retries": 2, "retry_delay": timedelta(0)},
) as dag:
    batch = SendLinkedInMessageBatchOperator(
        task_id="batch",
        recipients=[
            {"recipient_profile_id": "win-utc-uma", "tz": "UTC"},
            {"recipient_profile_id": "win-tokyo-taro", "tz": "Asia/Tokyo"},
        ],
        message="Hi {{ recipient.recipient_profile_id }}",
        campaign="windows-{{ run_id }}",
        send_window="{{ params.batch_window }}",
        timezone_field="tz",
    )
    sequence = LinkedInSequenceOperator(
        task_id="sequence",
        campaign="windows-seq-{{ run_id }}",
        recipients=[
            {"recipient_profile_id": "win-seq-sue"},
            {"recipient_profile_id": "win-seq-kiran", "tz": "Asia/Kolkata"},
        ],
        steps=[SequenceStep("Hello {{ recipient.recipient_profile_id }}")],
        stop_on_reply=False,
        send_window="{{ params.sequence_window }}",
        timezone="UTC",
        timezone_field="tz",
    )
    # The batch runs first and the sequence next: the test's margins count from the run's start.
    closed_skip = SendLinkedInMessageOperator(
        task_id="closed_skip",
        recipient_profile_id="win-skip-sid",
        message="hi",
        send_window="{{ params.closed_window }}",
        on_limit="skip",
    )
    closed_fail = SendLinkedInMessageOperator(
        task_id="closed_fail",
        recipient_profile_id="win-fail-fay",
        message="hi",
        send_window="{{ params.closed_window }}",
        on_limit="fail",
        retries=0,
    )
    bad_timezone = SendLinkedInMessageOperator(
        task_id="bad_timezone",
        recipient_profile_id="win-bad-bea",
        message="hi",
        send_window=OPEN,
        timezone="{{ params.bad_tz }}",
    )
    batch >> sequence >> [closed_skip, closed_fail, bad_timezone]
