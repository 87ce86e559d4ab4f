"""The soak run's three DAGs (tests/soak): a connect-first sequence over three accounts, a
batch campaign and a single send, each run hourly by the harness with ``dag.test()``.

The people come from the CRM table the harness wrote (connection ``soak_crm``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from population import (
    ACCOUNTS,
    BATCH_ACCOUNT,
    BATCH_CAMPAIGN,
    DAILY_LIMIT,
    FOLLOW_UP_WAIT,
    SEQUENCE_CAMPAIGN,
    SINGLE_ACCOUNT,
    SINGLE_CAMPAIGN,
    WARMUP,
    WEEKLY_LIMIT,
    WINDOW,
)

from airflow_provider_connectsafely.operators.messaging import (
    SendLinkedInMessageBatchOperator,
    SendLinkedInMessageOperator,
)
from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

LEDGER = "soak_ledger"
CRM = "soak_crm"


def _rows(group: str) -> str:
    return f"SELECT recipient_profile_id, first_name, timezone FROM people WHERE grp = '{group}' ORDER BY 1"


_common = {
    "schedule": None,
    "start_date": pendulum.datetime(2027, 1, 1, tz="UTC"),
    "default_args": {"retries": 0},
}

with DAG(dag_id="soak_sequence", **_common) as sequence_dag:
    LinkedInSequenceOperator(
        task_id="outreach",
        campaign=SEQUENCE_CAMPAIGN,
        recipients_sql=_rows("sequence"),
        recipients_conn_id=CRM,
        account_ids=list(ACCOUNTS),
        warmup=WARMUP,
        daily_limit=DAILY_LIMIT,
        weekly_limit=WEEKLY_LIMIT,
        send_window=WINDOW,
        timezone_field="timezone",
        steps=[
            SequenceStep(action="connect", note="Hi {{ recipient.first_name }}, let's connect."),
            SequenceStep(message="Thanks for connecting, {{ recipient.first_name }}."),
            SequenceStep(message="A follow-up, {{ recipient.first_name }}.", wait=FOLLOW_UP_WAIT),
        ],
        stop_on_reply=True,
        on_limit="skip",
        ledger_conn_id=LEDGER,
    )

with DAG(dag_id="soak_batch", **_common) as batch_dag:
    SendLinkedInMessageBatchOperator(
        task_id="campaign",
        campaign=BATCH_CAMPAIGN,
        # its own people, then the sequence people on its list too (population.ALSO_BATCH_SHARE)
        recipients_sql="SELECT recipient_profile_id, first_name, timezone FROM people "
        "WHERE grp = 'batch' OR also_batch = 1 ORDER BY grp, 1",
        recipients_conn_id=CRM,
        message="Hello {{ recipient.first_name }}, a word about our spring offer.",
        account_id=BATCH_ACCOUNT,
        daily_limit=DAILY_LIMIT,
        send_window=WINDOW,
        timezone_field="timezone",
        min_interval=0,
        jitter=0,
        max_failures=10_000,
        progress_every=0,
        on_limit="skip",
        ledger_conn_id=LEDGER,
    )

with DAG(dag_id="soak_single", params={"recipient": "", "tz": "UTC"}, **_common) as single_dag:
    SendLinkedInMessageOperator(
        task_id="send",
        recipient_profile_id="{{ params.recipient }}",
        message="Your invoice is ready.",
        dedupe_key=SINGLE_CAMPAIGN + ":{{ params.recipient }}",
        account_id=SINGLE_ACCOUNT,
        daily_limit=DAILY_LIMIT,
        send_window=WINDOW,
        timezone="{{ params.tz }}",
        on_limit="skip",
        ledger_conn_id=LEDGER,
    )
