"""After each CRM load, message the contacts not yet contacted, then write the outcomes back.

Scheduled on ``Asset("crm://contacts")`` (updated by ``connectsafely_crm_load``). The batch
operator records every send in the send ledger under the campaign, so running this twice
sends nothing the second time, even if the write-back had not happened: trigger it with
``{"include_contacted": true}`` to offer every contact again and see the ledger report them
as already sent (``skipped``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, task

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageBatchOperator

with DAG(
    dag_id="connectsafely_crm_outreach",
    schedule=[Asset("crm://contacts")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"include_contacted": False},
    tags=["connectsafely", "example", "crm"],
) as dag:

    @task
    def new_contacts(params: dict | None = None) -> list[dict]:
        from example_crm import connect

        everyone = bool((params or {}).get("include_contacted"))
        with connect() as db:
            rows = db.execute(
                "SELECT contact_id, first_name, company, linkedin_url AS recipient_profile_id "
                "FROM contacts WHERE contacted_at IS NULL OR ? ORDER BY contact_id",
                (everyone,),
            ).fetchall()
        return [dict(row) for row in rows]

    send = SendLinkedInMessageBatchOperator(
        task_id="send_welcome",
        recipients=new_contacts(),
        campaign="crm-welcome-2026",
        message=(
            "Hi {{ recipient.first_name }}, thanks for your interest in our data platform! "
            "Happy to show how teams like {{ recipient.company }} use it."
        ),
        min_interval=0,  # a real campaign spaces sends 10 to 20 seconds apart
        max_failures=0,
        # Its asset event carries the outcomes: connectsafely_crm_write_back writes them back.
        outlets=[Asset("connectsafely://campaign/crm-welcome-2026")],
    )

    @task
    def write_back(result: dict) -> dict:
        from example_crm import connect

        done = [o for o in result["outcomes"] if o["status"] in ("sent", "skipped")]
        by_url = {o["recipient"]: o for o in done}
        with connect() as db:
            for contact_id, url in db.execute("SELECT contact_id, linkedin_url FROM contacts").fetchall():
                slug = url.rstrip("/").rsplit("/", 1)[-1]
                outcome = by_url.get(slug)
                if outcome:
                    db.execute(
                        "UPDATE contacts SET contacted_at = CURRENT_TIMESTAMP, outreach_status = ? "
                        "WHERE contact_id = ?",
                        (outcome["status"], contact_id),
                    )
        return result["summary"]

    write_back(send.output)
