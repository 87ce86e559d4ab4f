"""A person approves a campaign before it goes out: dry run, preview, approval, then the send.

1. ``dry_run`` renders and validates every message and sends nothing (``dry_run=True``);
2. ``approve`` (Airflow's ``ApprovalOperator``, Airflow 3.1+) shows a Markdown preview built
   from the dry run's XCom by :func:`~airflow_provider_connectsafely.outreach.preview.campaign_preview`:
   messages per account, the first few as they will be sent, and who gets nothing and why.
   Answer in the UI (the task's "Required Actions") or through the REST API;
3. ``send`` sends the same recipients the same message, only on "Approve". "Reject" skips
   it: nothing is sent. No answer within a day counts as "Reject".
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, task

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageBatchOperator
from airflow_provider_connectsafely.outreach.preview import campaign_preview

with DAG(
    dag_id="connectsafely_approved_send",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    # The preview helper, callable in templates: {{ campaign_preview(...) }}.
    user_defined_macros={"campaign_preview": campaign_preview},
    tags=["connectsafely", "example", "approval"],
) as dag:

    @task
    def contacts() -> list[dict]:
        import csv
        from pathlib import Path

        source = Path(__file__).parent / "data" / "crm_contacts.csv"
        with source.open(newline="") as handle:
            return [
                {"first_name": row["first_name"], "recipient_profile_id": row["linkedin_url"]}
                for row in csv.DictReader(handle)
                if row["consent"] == "yes"
            ]

    # What the dry run and the send share: the same recipients, campaign and message.
    campaign = {
        "recipients": contacts(),
        "campaign": "approved-launch-2026",
        "message": "Hi {{ recipient.first_name }}, our 2026 release is out: want a short tour?",
        "max_failures": 5,  # a few invalid rows are shown in the preview, not a reason to stop
    }

    dry_run = SendLinkedInMessageBatchOperator(task_id="dry_run", dry_run=True, **campaign)

    approve = ApprovalOperator(
        task_id="approve",
        subject="Send {{ ti.xcom_pull(task_ids='dry_run')['summary']['would_send'] }} LinkedIn message(s)?",
        body="{{ campaign_preview(ti.xcom_pull(task_ids='dry_run'), title='approved-launch-2026') }}",
        defaults="Reject",
        response_timeout=timedelta(days=1),
    )

    send = SendLinkedInMessageBatchOperator(task_id="send", **campaign)

    dry_run >> approve >> send
