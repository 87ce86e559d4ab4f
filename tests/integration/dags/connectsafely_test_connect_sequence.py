"""Test DAG: connect, then a message after acceptance, then a follow-up, from two accounts,
in a sending window on each recipient's clock."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.emulator.state import default_account_ids
from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

RECIPIENTS = [
    {"recipient_profile_id": "ann-lee", "first_name": "Ann", "timezone": "Asia/Tokyo"},
    {"recipient_profile_id": "bob-ray", "first_name": "Bob", "timezone": "America/New_York"},
    {"recipient_profile_id": "cy-young", "first_name": "Cy", "timezone": "Europe/Berlin"},
    {"recipient_profile_id": "di-park", "first_name": "Di"},
]

with DAG(
    dag_id="connectsafely_test_connect_sequence",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"window": "Mon-Sun 00:00-24:00", "accounts": default_account_ids()},
) as dag:
    LinkedInSequenceOperator(
        task_id="outreach",
        campaign="test-connect-first",
        recipients=RECIPIENTS,
        account_ids="{{ params.accounts | join(',') }}",
        send_window="{{ params.window }}",
        timezone_field="timezone",
        steps=[
            SequenceStep(action="connect", note="Hi {{ recipient.first_name }}, let's connect."),
            SequenceStep(message="Thanks for connecting, {{ recipient.first_name }}."),
            SequenceStep(message="A follow-up, {{ recipient.first_name }}.", wait=timedelta(seconds=1)),
        ],
        stop_on_reply=True,
    )
