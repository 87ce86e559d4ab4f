"""A daily three-step sequence to the CRM's contacts that stops for whoever replies, with
each contact's sequence state and reply written back to the CRM.

Each daily run enrols the contacts not seen before, reads replies with one account-wide
listing, and sends the steps that are due: the first at once, a follow-up 3 days later, the
last one 7 days after that, each at most once per contact. ``make demo`` shrinks a day to a
few seconds with ``CONNECTSAFELY_EXAMPLE_DAY_SECONDS``.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Asset, task

from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

DAY = timedelta(seconds=float(os.environ.get("CONNECTSAFELY_EXAMPLE_DAY_SECONDS", 86400)))

with DAG(
    dag_id="connectsafely_crm_sequence",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["connectsafely", "example", "crm", "sequence"],
) as dag:

    @task
    def contacts() -> list[dict]:
        from example_crm import connect

        with connect() as db:
            rows = db.execute(
                "SELECT contact_id, first_name, company, linkedin_url AS recipient_profile_id "
                "FROM contacts ORDER BY contact_id"
            ).fetchall()
        return [dict(row) for row in rows]

    outreach = LinkedInSequenceOperator(
        task_id="outreach",
        campaign="crm-data-leaders",
        recipients=contacts(),
        steps=[
            SequenceStep(
                message="Hi {{ recipient.first_name }}, how does {{ recipient.company }} run its pipelines?"
            ),
            SequenceStep(message="Following up on my note, {{ recipient.first_name }}.", wait=3 * DAY),
            SequenceStep(message="Last one from me: happy to help any time.", wait=7 * DAY),
        ],
        stop_on_reply=True,
        min_interval=0,  # a real campaign spaces sends 10 to 20 seconds apart
        # Its asset event carries the outcomes: connectsafely_crm_write_back writes them back.
        outlets=[Asset("connectsafely://campaign/crm-data-leaders")],
    )

    @task
    def write_back(result: dict) -> dict:
        from example_crm import connect

        by_slug = {o["recipient"]: o for o in result["outcomes"]}
        with connect() as db:
            for contact_id, url in db.execute("SELECT contact_id, linkedin_url FROM contacts").fetchall():
                outcome = by_slug.get(url.rstrip("/").rsplit("/", 1)[-1].lower())
                if outcome:
                    db.execute(
                        "UPDATE contacts SET sequence_state = ?, replied_at = ?, reply_text = ? "
                        "WHERE contact_id = ?",
                        (outcome["state"], outcome.get("replied_at"), outcome.get("reply_text"), contact_id),
                    )
        return result["summary"]

    write_back(outreach.output)
