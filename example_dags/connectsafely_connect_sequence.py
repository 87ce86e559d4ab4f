"""Connect first, then message once the invitation is accepted, then follow up: a sequence
sent from two LinkedIn accounts, only in each contact's working hours.

- Step 1 is a connection request with a note; a contact already connected skips it.
- Step 2 waits until the invitation is accepted (one relationship read per contact whose step
  is due); a contact who has not accepted after 21 days leaves the sequence.
- Step 3 follows up 4 days later, in the same conversation, unless the contact replied.
- Each new contact is given one of the ``account_ids`` (the one with most room today, or the
  account that contacted them before) and hears only from that account; each account keeps its
  own daily cap, its weekly cap of 90 connection requests, and a warm-up while it is new.
- Nothing goes out outside Monday to Friday 09:00-17:30 on the contact's own clock (the CRM's
  ``timezone`` column); the task defers until the earliest window opens.

Run it hourly or daily: each run sends only what is due. Set ``account_ids`` to your accounts
(``GET /linkedin/accounts``); the defaults are the built-in emulator's two accounts. ``make
demo`` shrinks a day to a few seconds with ``CONNECTSAFELY_EXAMPLE_DAY_SECONDS`` and opens the
window all week with ``{"send_window": "Mon-Sun 00:00-24:00"}``.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_connectsafely.emulator.state import default_account_ids
from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

DAY = timedelta(seconds=float(os.environ.get("CONNECTSAFELY_EXAMPLE_DAY_SECONDS", 86400)))

with DAG(
    dag_id="connectsafely_connect_sequence",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "send_window": Param("Mon-Fri 09:00-17:30", type="string"),
        "account_ids": Param(default_account_ids(), type="array"),
    },
    tags=["connectsafely", "example", "crm", "sequence", "connect"],
) as dag:

    @task
    def contacts() -> list[dict]:
        from example_crm import connect

        with connect() as db:
            rows = db.execute(
                "SELECT contact_id, first_name, company, timezone, "
                "linkedin_url AS recipient_profile_id FROM contacts ORDER BY contact_id"
            ).fetchall()
        return [dict(row) for row in rows]

    LinkedInSequenceOperator(
        task_id="connect_then_message",
        campaign="crm-connect-first",
        recipients=contacts(),
        account_ids="{{ params.account_ids | join(',') }}",
        warmup={"start": 10, "days": 14},
        send_window="{{ params.send_window }}",
        timezone="Europe/London",  # for contacts without a time zone in the CRM
        timezone_field="timezone",
        steps=[
            SequenceStep(
                action="connect",
                note="Hi {{ recipient.first_name }}, I build data pipelines like {{ recipient.company }}'s.",
                give_up_after=21 * DAY,
            ),
            SequenceStep(message="Thanks for connecting, {{ recipient.first_name }}! How do you run loads?"),
            SequenceStep(
                message="Happy to share what worked for us, {{ recipient.first_name }}.",
                wait=4 * DAY,
            ),
        ],
        stop_on_reply=True,
    )
