"""Deployment test DAG: a run per LinkedIn reply, fed by the provider's AssetWatcher trigger.

The trigger polls every second; its watermark lives in the send ledger's database (the shared
PostgreSQL ledger named by ``[connectsafely] ledger_conn_id``), so whichever triggerer runs it
carries on where the other stopped.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_connectsafely.triggers.reply_events import LinkedInRepliesEventTrigger

replies = Asset(
    "connectsafely://replies/default",
    watchers=[
        AssetWatcher(
            name="deploy_replies",
            trigger=LinkedInRepliesEventTrigger(
                poke_interval=1, lookback=60, since="2026-01-01T00:00:00+00:00"
            ),
        )
    ],
)

with DAG(
    dag_id="deploy_on_reply",
    schedule=[replies],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
) as dag:

    @task
    def noted() -> None:
        """Nothing to do: the test counts the asset events."""

    noted()
