"""Deployment test DAG: a batch paced at one send a second whose ledger is a PostgreSQL
connection (``deploy_restart_ledger``), so the test can restart that server in the middle of
it, between two sends."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageBatchOperator

RECIPIENTS = [f"pgr-{number:02d}" for number in range(20)]

with DAG(
    dag_id="deploy_pg_batch",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
) as dag:
    SendLinkedInMessageBatchOperator(
        task_id="paced_batch",
        recipients=RECIPIENTS,
        message="Hello {{ recipient.recipient_profile_id }}",
        ledger_conn_id="deploy_restart_ledger",
        min_interval=1.0,
        jitter=0,
        daily_limit=0,
        progress_every=2,
    )
