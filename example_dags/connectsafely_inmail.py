"""Send an InMail whose body comes from a Jinja template file (templates/inmail_body.j2)."""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator

with DAG(
    dag_id="connectsafely_inmail",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    template_searchpath=[str(Path(__file__).parent / "templates")],
    params={"recipient_urn": "urn:li:fsd_profile:ACoAAExample01", "role": "Data Engineer"},
    tags=["connectsafely", "example"],
) as dag:
    SendLinkedInMessageOperator(
        task_id="send_inmail",
        recipient_profile_urn="{{ params.recipient_urn }}",
        message_type="inmail",
        subject="A {{ params.role }} opportunity",
        message="inmail_body.j2",
    )
