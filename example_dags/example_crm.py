"""The example "CRM": a SQLite file under AIRFLOW_HOME (shared by the CRM example DAGs)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def crm_path() -> Path:
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / "example_crm.sqlite"


#: Columns the outcome write-back (connectsafely_crm_write_back) keeps up to date; a CRM file
#: made before they existed gets them added.
OUTCOME_COLUMNS = ("last_contacted_at", "last_outcome")


def connect() -> sqlite3.Connection:
    db = sqlite3.connect(crm_path())
    db.row_factory = sqlite3.Row
    db.execute(
        "CREATE TABLE IF NOT EXISTS contacts (contact_id INTEGER PRIMARY KEY, first_name TEXT, "
        "last_name TEXT, company TEXT, linkedin_url TEXT, contacted_at TEXT, outreach_status TEXT, "
        "sequence_state TEXT, replied_at TEXT, reply_text TEXT, timezone TEXT, "
        "last_contacted_at TEXT, last_outcome TEXT)"
    )
    present = {row["name"] for row in db.execute("PRAGMA table_info(contacts)")}
    for column in OUTCOME_COLUMNS:
        if column not in present:
            db.execute(f"ALTER TABLE contacts ADD COLUMN {column} TEXT")
    db.execute(
        "CREATE TABLE IF NOT EXISTS unsubscribes "
        "(linkedin_url TEXT PRIMARY KEY, unsubscribed_at TEXT, reason TEXT)"
    )
    return db


def connection_json() -> str:
    """The Airflow connection ``example_crm`` to this file (``AIRFLOW_CONN_EXAMPLE_CRM``)."""
    import json

    return json.dumps({"conn_type": "sqlite", "host": str(crm_path())})


def show() -> None:
    """Print each contact's outcome columns (``make demo`` shows the write-back with it)."""
    with connect() as db:
        rows = db.execute(
            "SELECT first_name, last_outcome, last_contacted_at, replied_at FROM contacts ORDER BY contact_id"
        ).fetchall()
    print("   first_name | last_outcome | last_contacted_at | replied_at")
    for row in rows:
        print("   " + " | ".join(str(value) for value in row))


def seed_unsubscribes(db: sqlite3.Connection) -> None:
    """Fill the example's unsubscribes from data/crm_unsubscribes.csv (a real CRM has its own)."""
    import csv

    source = Path(__file__).parent / "data" / "crm_unsubscribes.csv"
    with source.open(newline="") as handle:
        db.executemany(
            "INSERT OR IGNORE INTO unsubscribes (linkedin_url, unsubscribed_at, reason) "
            "VALUES (:linkedin_url, :unsubscribed_at, :reason)",
            list(csv.DictReader(handle)),
        )


if __name__ == "__main__":
    show()
