"""Test DAG: templated fields, a template file, and input that renders invalid."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator

with DAG(
    dag_id="connectsafely_test_templating",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    template_searchpath=[str(Path(__file__).parent / "templates")],
    params={"who": "https://www.linkedin.com/in/jane-roe/", "name": "Jane", "blank": ""},
    default_args={"retries": 3, "retry_delay": timedelta(seconds=1)},
) as dag:
    SendLinkedInMessageOperator(
        task_id="inline",
        recipient_profile_id="{{ params.who }}",
        message="Hi {{ params.name }}, report for {{ ds }} is ready.",
    )
    SendLinkedInMessageOperator(
        task_id="from_file",
        recipient_profile_urn="urn:li:fsd_profile:ACoAAFile",
        message_type="inmail",
        subject="Role for {{ params.name }}",
        message="inmail_body.j2",
        params={"role": "Analytics Engineer"},
    )
    SendLinkedInMessageOperator(
        task_id="renders_empty",
        recipient_profile_id="{{ params.who }}",
        message="{{ params.blank }}",
    )
