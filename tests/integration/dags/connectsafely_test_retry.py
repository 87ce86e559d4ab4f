"""Test DAG: a task whose first try sends and then fails, so Airflow retries it."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.compat import AirflowException
from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator


class SendThenCrash(SendLinkedInMessageOperator):
    """Sends, then fails its first try (as if the worker died after the API answered)."""

    def execute(self, context):
        answer = super().execute(context)
        if context["ti"].try_number == 1:
            raise AirflowException("simulated crash after the message went out")
        return answer


with DAG(
    dag_id="connectsafely_test_retry",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
) as dag:
    SendThenCrash(
        task_id="send",
        recipient_profile_id="retry-rita",
        message="Only once, please.",
        retries=1,
        retry_delay=timedelta(seconds=0),
    )
