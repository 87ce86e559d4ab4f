"""Test DAG: one send task per row of the fault matrix (tests/helpers/fault_cases.py).

Each task messages its own recipient; the test queues each row's fault in the emulator with
``match`` on that recipient, runs the DAG once with ``dag.test()`` and checks every task.
``retries=1`` with no delay shows which failures Airflow retries and which it must not.
Every send goes through the send ledger (its own SQLite file, set by the test), so the test
also checks the state the ledger records for each row; limits fail the task instead of deferring.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator

try:
    from helpers.fault_cases import CASES, CONN_IDS  # tests/ is on sys.path under pytest
except ImportError:  # parsed elsewhere (a DAG processor outside pytest): no tasks, no import error
    CASES, CONN_IDS = (), {}

with DAG(
    dag_id="connectsafely_test_fault_matrix",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    default_args={"retries": 1, "retry_delay": timedelta(0)},
    max_active_tasks=1,
) as dag:
    for case in CASES:
        SendLinkedInMessageOperator(
            task_id=case.id,
            recipient_profile_id=case.to,
            message=f"Fault matrix row {case.id}",
            connectsafely_conn_id=CONN_IDS[case.conn],
            ledger_conn_id=CONN_IDS["ledger"],
            daily_limit=0,
            on_limit="fail",
        )
