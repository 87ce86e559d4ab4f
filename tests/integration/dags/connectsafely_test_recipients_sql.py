"""Test DAG: recipients read with recipients_sql and bind parameters rendered by Airflow.

The CRM is a SQLite file the test creates; its connection ``connectsafely_test_crm`` is an
environment variable the test sets (nothing is read when the DAG is parsed).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageBatchOperator
from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

with DAG(
    dag_id="connectsafely_test_recipients_sql",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"segment": "O'Brien & Co", "campaign": "test-recipients-sql"},
) as dag:
    # Named placeholders; the values are rendered from the run's date and params.
    SendLinkedInMessageBatchOperator(
        task_id="batch",
        recipients_sql=(
            "SELECT recipient_profile_id, first_name FROM contacts "
            "WHERE signed_up <= :since AND segment = :segment ORDER BY first_name"
        ),
        recipients_conn_id="connectsafely_test_crm",
        recipients_parameters={"since": "{{ ds }}", "segment": "{{ params.segment }}"},
        message="Hi {{ recipient.first_name }}",
        campaign="{{ params.campaign }}",
    )
    # Positional placeholders.
    LinkedInSequenceOperator(
        task_id="sequence",
        campaign="{{ params.campaign }}-seq",
        recipients_sql="SELECT recipient_profile_id, first_name FROM contacts WHERE segment = ?",
        recipients_conn_id="connectsafely_test_crm",
        recipients_parameters=["{{ params.segment }}"],
        steps=[SequenceStep(message="Hello {{ recipient.first_name }}")],
        stop_on_reply=False,
    )
    # A template of the whole field renders to text: fails before any request, no retry.
    SendLinkedInMessageBatchOperator(
        task_id="whole_field_template",
        recipients_sql="SELECT recipient_profile_id FROM contacts WHERE segment = ?",
        recipients_conn_id="connectsafely_test_crm",
        recipients_parameters="{{ params.segment }}",
        message="never sent",
        campaign="{{ params.campaign }}-bad",
        retries=3,
    )
