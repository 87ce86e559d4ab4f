"""Test DAG: a three-step sequence whose waits are seconds, not days."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

RECIPIENTS = [
    {"recipient_profile_id": "ann-lee", "first_name": "Ann"},
    {"recipient_profile_id": "bob-ray", "first_name": "Bob"},
    {"recipient_profile_id": "cy-young", "first_name": "Cy"},
]

with DAG(
    dag_id="connectsafely_test_sequence",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"campaign": "test-sequence", "wait": 2},
) as dag:
    LinkedInSequenceOperator(
        task_id="outreach",
        campaign="{{ params.campaign }}",
        recipients=RECIPIENTS,
        steps=[
            SequenceStep(message="Hi {{ recipient.first_name }}, step {{ step }}."),
            SequenceStep(message="Following up, {{ recipient.first_name }}.", wait=timedelta(seconds=2)),
            SequenceStep(message="Last one from me.", wait=timedelta(seconds=2)),
        ],
        stop_on_reply=True,
    )
