"""Outcomes back into the CRM: each campaign's asset event updates the contacts it reached.

The CRM outreach and sequence DAGs name ``Asset("connectsafely://campaign/<name>")`` in their
send task's ``outlets``; that task gives the asset event an extra with the run's outcome rows.
This DAG is scheduled on those assets and writes each row into the contacts table with
``SQLExecuteQueryOperator`` (the common.sql provider), through the connection ``example_crm``
(``AIRFLOW_CONN_EXAMPLE_CRM='{"conn_type": "sqlite", "host": ".../example_crm.sqlite"}'``):

- ``last_outcome``: what the latest run did (``sent``, ``failed``, ``unknown``, ``replied``...);
  a row ``skipped`` as already sent changes nothing;
- ``last_contacted_at``: when a message last went out (the event's ``emitted_at``);
- ``replied_at``: when the person replied (from a sequence's rows).

Run by hand (``airflow dags test``, as ``make demo`` does), it writes back the latest event of
each campaign (its ``inlets``).
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG, Asset, task

CAMPAIGNS = [
    Asset("connectsafely://campaign/crm-welcome-2026"),
    Asset("connectsafely://campaign/crm-data-leaders"),
]

# One statement: SQLite reads the rows from the JSON parameter (json_each) and updates each
# contact whose LinkedIn URL ends with the row's profile ID.
WRITE_BACK = """
UPDATE contacts SET
    last_outcome = o.status,
    last_contacted_at = CASE WHEN o.status = 'sent' THEN o.at ELSE contacts.last_contacted_at END,
    replied_at = COALESCE(o.replied_at, contacts.replied_at)
FROM (
    SELECT json_extract(value, '$.recipient') AS recipient, json_extract(value, '$.status') AS status,
           json_extract(value, '$.at') AS at, json_extract(value, '$.replied_at') AS replied_at
    FROM json_each(:rows)
) AS o
WHERE lower(rtrim(contacts.linkedin_url, '/')) LIKE '%/' || lower(o.recipient)
"""

with DAG(
    dag_id="connectsafely_crm_write_back",
    schedule=CAMPAIGNS[0] | CAMPAIGNS[1],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["connectsafely", "example", "crm"],
) as dag:

    @task(inlets=CAMPAIGNS)
    def outcome_rows(triggering_asset_events=None, inlet_events=None, ti=None) -> str:
        """The rows of the triggering events (of the latest event of each campaign when run by
        hand), one per recipient, the latest winning, as JSON for the query."""
        import json

        from example_crm import connect

        connect().close()  # the contacts table and its outcome columns exist

        events = [e for found in (triggering_asset_events or {}).values() for e in found]
        if not events:
            events = [found[-1] for found in (inlet_events[a] for a in CAMPAIGNS) if len(found)]
        latest: dict[str, dict] = {}
        for event in sorted(events, key=lambda e: e.timestamp):
            extra = event.extra or {}
            if extra.get("dry_run"):
                continue
            outcomes = extra.get("outcomes")
            if outcomes is None and extra.get("source"):  # too many rows for the event: its XCom
                source = extra["source"]
                result = ti.xcom_pull(
                    dag_id=source["dag_id"],
                    run_id=source["run_id"],
                    task_ids=source["task_id"],
                    map_indexes=source["map_index"],
                )
                outcomes = (result or {}).get("outcomes", [])
            for row in outcomes or []:
                if row.get("status") == "skipped":  # sent before: nothing new happened
                    continue
                latest[str(row["recipient"])] = {
                    "recipient": row["recipient"],
                    "status": row["status"],
                    "at": extra["emitted_at"],
                    "replied_at": row.get("replied_at"),
                }
        return json.dumps(list(latest.values()))

    SQLExecuteQueryOperator(
        task_id="write_back",
        conn_id="example_crm",
        sql=WRITE_BACK,
        parameters={"rows": outcome_rows()},
    )
