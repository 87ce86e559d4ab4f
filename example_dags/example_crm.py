"""The example "CRM": a SQLite file under AIRFLOW_HOME (shared by the two CRM example DAGs)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def crm_path() -> Path:
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / "example_crm.sqlite"


def connect() -> sqlite3.Connection:
    db = sqlite3.connect(crm_path())
    db.row_factory = sqlite3.Row
    db.execute(
        "CREATE TABLE IF NOT EXISTS contacts (contact_id INTEGER PRIMARY KEY, first_name TEXT, "
        "last_name TEXT, company TEXT, linkedin_url TEXT, contacted_at TEXT, outreach_status TEXT, "
        "sequence_state TEXT, replied_at TEXT, reply_text TEXT, timezone TEXT)"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS unsubscribes "
        "(linkedin_url TEXT PRIMARY KEY, unsubscribed_at TEXT, reason TEXT)"
    )
    return db


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
