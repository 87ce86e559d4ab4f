"""Deployment test DAG: a batch of two capped at one message per window, so it defers to the
triggerer before its second send, then one single send.

The window is a UTC day in real use; the deployment test shortens it for the Airflow processes
with ``CONNECTSAFELY_TESTING_CAP_WINDOW_SECONDS`` (the provider's documented test switch).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import (
    SendLinkedInMessageBatchOperator,
    SendLinkedInMessageOperator,
)

with DAG(
    dag_id="deploy_capped",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
) as dag:
    capped = SendLinkedInMessageBatchOperator(
        task_id="capped_batch",
        recipients=["capped-ada", "capped-grace"],
        message="Hello {{ recipient.recipient_profile_id }}",
        daily_limit=1,
    )
    welcome = SendLinkedInMessageOperator(
        task_id="welcome",
        recipient_profile_id="capped-welcome",
        message="Welcome aboard",
        daily_limit=0,
    )
    capped >> welcome
