"""Sync the CRM's unsubscribes into the send ledger's do-not-contact list, hourly.

Every send path (batch, sequence, connection requests, the notifier) checks that list when it
claims a send, so a person who unsubscribed in the CRM is not contacted by any campaign from
the moment this task commits. The sync only adds: taking someone off the list is a decision
for a person (``connectsafely-ledger suppress remove``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

with DAG(
    dag_id="connectsafely_crm_unsubscribes",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["connectsafely", "example", "crm", "privacy"],
) as dag:

    @task
    def read_unsubscribes() -> list[dict[str, str]]:
        from example_crm import connect, seed_unsubscribes

        with connect() as db:
            seed_unsubscribes(db)  # the example CRM only: a real one has its own rows
            rows = db.execute("SELECT linkedin_url, reason FROM unsubscribes ORDER BY linkedin_url")
            return [{"person": url, "reason": reason or "unsubscribed in the CRM"} for url, reason in rows]

    @task
    def sync(rows: list[dict[str, str]]) -> int:
        from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook

        # All rows are checked first: one malformed URL fails the task and adds none.
        ledger = ConnectSafelyHook().get_ledger()
        added = ledger.suppress_many(rows, source="import", created_by="crm sync")
        print(f"{len(rows)} CRM unsubscribe(s), {added} new on the do-not-contact list")
        return added

    sync(read_unsubscribes())
