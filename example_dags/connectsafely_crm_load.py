"""Load CRM contacts from a CSV into a SQLite "CRM" table, then mark the asset updated.

``connectsafely_crm_outreach`` is scheduled on that asset: every load is followed by
outreach to the contacts not yet messaged.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, task

CRM_CONTACTS = Asset("crm://contacts")

with DAG(
    dag_id="connectsafely_crm_load",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["connectsafely", "example", "crm"],
) as dag:

    @task(outlets=[CRM_CONTACTS])
    def load_contacts() -> int:
        import csv
        from pathlib import Path

        from example_crm import connect

        source = Path(__file__).parent / "data" / "crm_contacts.csv"
        with source.open(newline="") as handle, connect() as db:
            rows = [row for row in csv.DictReader(handle) if row["consent"] == "yes"]
            db.executemany(
                "INSERT INTO contacts (contact_id, first_name, last_name, company, linkedin_url, timezone) "
                "VALUES (:contact_id, :first_name, :last_name, :company, :linkedin_url, :timezone) "
                "ON CONFLICT (contact_id) DO UPDATE SET first_name = excluded.first_name, "
                "last_name = excluded.last_name, company = excluded.company, "
                "linkedin_url = excluded.linkedin_url, timezone = excluded.timezone",
                rows,
            )
        return len(rows)

    load_contacts()
