"""Test DAG: a sequence, then a batch, to the same two people from two accounts (issue 17: an
account that refuses must fail neither task while another account still sends)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.emulator.state import default_account_ids
from airflow_provider_connectsafely.operators.batch import SendLinkedInMessageBatchOperator
from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

RECIPIENTS = ["ann", "zoe"]

with DAG(
    dag_id="connectsafely_test_refusing_account",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"accounts": default_account_ids()},
    render_template_as_native_obj=True,
) as dag:
    sequence = LinkedInSequenceOperator(
        task_id="sequence",
        campaign="test-refusing-account-sequence",
        recipients=RECIPIENTS,
        account_ids="{{ params.accounts }}",
        steps=[SequenceStep("Hi"), SequenceStep("A follow-up", wait=timedelta(days=3))],
    )
    batch = SendLinkedInMessageBatchOperator(
        task_id="batch",
        recipients=RECIPIENTS,
        message="Hi",
        campaign="test-refusing-account-batch",
        account_ids="{{ params.accounts }}",
        trigger_rule="all_done",
    )
    sequence >> batch
