"""Test DAG: every kind of send task with a campaign asset as its outlet (and one other)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset

from airflow_provider_connectsafely.operators.connections import SendLinkedInConnectionRequestOperator
from airflow_provider_connectsafely.operators.messaging import (
    SendLinkedInMessageBatchOperator,
    SendLinkedInMessageOperator,
)
from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

with DAG(
    dag_id="connectsafely_test_campaign_events",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
) as dag:
    SendLinkedInMessageBatchOperator(
        task_id="batch",
        recipients=["events-ann", {"first_name": "nobody"}],
        message="Hi {{ recipient.recipient_profile_id }}",
        campaign="events-batch",
        max_failures=1,
        outlets=[Asset("connectsafely://campaign/events-batch"), Asset("crm://elsewhere")],
    )
    SendLinkedInMessageOperator(
        task_id="single",
        recipient_profile_id="events-bob",
        message="Hello Bob",
        outlets=[Asset("connectsafely://campaign/events-single")],
    )
    SendLinkedInConnectionRequestOperator(
        task_id="connect",
        recipient_profile_id="events-cy",
        outlets=[Asset("connectsafely://campaign/events-connect")],
    )
    LinkedInSequenceOperator(
        task_id="sequence",
        campaign="events-sequence",
        recipients=["events-dee"],
        steps=[SequenceStep(message="Hi Dee")],
        outlets=[Asset("connectsafely://campaign/events-sequence")],
    )
