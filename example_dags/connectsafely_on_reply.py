"""One DAG run per new LinkedIn reply: the reply is written to the CRM as it arrives.

Scheduled on ``Asset("connectsafely://replies/default")``, which an ``AssetWatcher`` keeps
up to date: the triggerer polls the account's recent messages and turns each new reply
into an asset event whose ``extra["payload"]`` is the reply. Needs a running
``airflow triggerer``; the watcher remembers what it delivered, so no reply starts two runs.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_connectsafely.triggers.reply_events import LinkedInRepliesEventTrigger

REPLIES = Asset(
    "connectsafely://replies/default",
    watchers=[
        AssetWatcher(name="connectsafely_replies", trigger=LinkedInRepliesEventTrigger(poke_interval=300))
    ],
)

with DAG(
    dag_id="connectsafely_on_reply",
    schedule=[REPLIES],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["connectsafely", "example", "crm", "replies"],
) as dag:

    @task
    def record_replies(triggering_asset_events=None) -> int:
        from example_crm import connect

        replies = [
            event.extra.get("payload", {})
            for events in (triggering_asset_events or {}).values()
            for event in events
        ]
        with connect() as db:
            for reply in replies:
                db.execute(
                    "UPDATE contacts SET replied_at = ?, reply_text = ? WHERE lower(linkedin_url) LIKE ?",
                    (
                        reply.get("sentAt"),
                        reply.get("text"),
                        f"%/{str(reply.get('senderProfileId')).lower()}/",
                    ),
                )
        return len(replies)

    record_replies()
