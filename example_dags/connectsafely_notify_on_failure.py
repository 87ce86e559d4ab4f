"""Tell people on LinkedIn how a pipeline went: notifier callbacks at task and DAG level.

``send_linkedin_notification`` (``ConnectSafelyNotifier``) works wherever Airflow takes a
callback. Here the data owner hears when the nightly CRM sync task succeeds, and the on-call
engineer hears when any task fails (``default_args``) or the whole run fails (DAG level).
The messages are Jinja templates rendered with the callback's context.

Run it against the built-in emulator with ``make demo``: the sync succeeds, so only the
success notification is sent.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_connectsafely.notifications.connectsafely import send_linkedin_notification

ON_CALL = "https://www.linkedin.com/in/on-call-engineer/"

with DAG(
    dag_id="connectsafely_notify_on_failure",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"data_owner": "john-doe-123"},
    tags=["connectsafely", "example"],
    default_args={
        # Any task that fails tells the on-call engineer, with the error.
        "on_failure_callback": send_linkedin_notification(
            recipient_profile_id=ON_CALL,
            message="Task {{ ti.task_id }} of {{ dag.dag_id }} failed for {{ ds }}: {{ exception }}",
        ),
    },
    # The run as a whole failed (a task failed, or the run timed out).
    on_failure_callback=send_linkedin_notification(
        recipient_profile_id=ON_CALL,
        message="DAG run {{ run_id }} of {{ dag.dag_id }} failed: {{ reason }}",
    ),
) as dag:

    @task(
        on_success_callback=send_linkedin_notification(
            recipient_profile_id="{{ params.data_owner }}",
            message="Hi, the CRM sync for {{ ds }} finished: your dashboard is up to date.",
        )
    )
    def sync_crm() -> int:
        """Stands in for a real load; returns how many contacts were updated."""
        return 42

    sync_crm()
