"""Send one LinkedIn message every morning, with templated fields.

Run it against the built-in emulator with ``make demo``, or point the
``connectsafely_default`` connection at the real API.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator

with DAG(
    dag_id="connectsafely_scheduled_send",
    schedule="0 9 * * 1-5",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"recipient": "https://www.linkedin.com/in/john-doe-123/", "first_name": "John"},
    tags=["connectsafely", "example"],
) as dag:
    SendLinkedInMessageOperator(
        task_id="send_daily_update",
        recipient_profile_id="{{ params.recipient }}",
        message=(
            "Hi {{ params.first_name }}, here is the pipeline report for {{ ds }}: "
            "all loads finished on time."
        ),
    )
