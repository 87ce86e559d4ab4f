"""Test DAG: ConnectSafelyNotifier as task- and DAG-level callbacks, one task failing."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_connectsafely.notifications.connectsafely import (
    ConnectSafelyNotifier,
    send_linkedin_notification,
)

# One notifier object shared by every task through default_args: it must render per task.
EVERY_SUCCESS = ConnectSafelyNotifier(
    recipient_profile_id="{{ params.owner }}",
    message="{{ ti.task_id }} of {{ dag.dag_id }} succeeded for {{ ds }} (try {{ ti.try_number }})",
)

with DAG(
    dag_id="connectsafely_test_notifier",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"owner": "https://www.linkedin.com/in/data-owner/", "oncall": "on-call-engineer"},
    default_args={"retries": 0, "on_success_callback": EVERY_SUCCESS},
    on_success_callback=send_linkedin_notification(
        recipient_profile_id="{{ params.owner }}", message="unused: this run fails"
    ),
    on_failure_callback=send_linkedin_notification(
        recipient_profile_urn="urn:li:fsd_profile:ACoAAOnCall",
        message_type="inmail",
        subject="{{ dag.dag_id }} failed",
        message="Run {{ run_id }} failed: {{ reason }}",
    ),
) as dag:

    @task
    def extract() -> int:
        return 1

    @task
    def load(rows: int) -> int:
        return rows

    @task(
        on_failure_callback=send_linkedin_notification(
            recipient_profile_id="{{ params.oncall }}",
            message="{{ ti.task_id }} failed: {{ exception }}",
        )
    )
    def publish(rows: int) -> None:
        raise RuntimeError(f"publishing {rows} row(s) failed on purpose")

    rows = load(extract())
    publish(rows)
