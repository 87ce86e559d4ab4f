"""One mapped task instance per recipient, with dynamic task mapping.

Each recipient is its own task instance: retried, cleared and logged on its own.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator

with DAG(
    dag_id="connectsafely_mapped_sends",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["connectsafely", "example"],
) as dag:

    @task
    def new_beta_users() -> list[str]:
        # In a real DAG this reads the CRM; here it is a fixed list.
        return [
            "ada-lovelace",
            "https://www.linkedin.com/in/grace-hopper/",
            "alan-turing",
        ]

    SendLinkedInMessageOperator.partial(
        task_id="send_welcome",
        message="Hi! Thanks for joining the beta on {{ ds }}. Reply here if anything breaks.",
    ).expand(recipient_profile_id=new_beta_users())
