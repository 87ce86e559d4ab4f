"""recipients_sql with bind parameters rendered by Airflow in a real DAG run (dag.test() against
the emulator, the CRM on a real SQLite connection)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

from helpers.dag_runs import load_dag, rendered_fields, task_results

CONTACTS = [
    # (recipient_profile_id, first_name, segment, signed_up)
    ("obrien-olga", "Olga", "O'Brien & Co", "2026-02-01"),
    ("obrien-otto", "Otto", "O'Brien & Co", "2026-03-15"),  # after {{ ds }}
    ("acme-ann", "Ann", "Acme", "2026-01-10"),  # another segment
]


def test_bind_parameters_render_from_the_run_and_select_only_matching_rows(
    connection, airflow_db, tmp_path, monkeypatch
):
    db = tmp_path / "crm.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE contacts (recipient_profile_id, first_name, segment, signed_up)")
        conn.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?)", CONTACTS)
    monkeypatch.setenv(
        "AIRFLOW_CONN_CONNECTSAFELY_TEST_CRM", json.dumps({"conn_type": "sqlite", "host": str(db)})
    )

    run = load_dag("connectsafely_test_recipients_sql").test(
        logical_date=datetime(2026, 2, 15, tzinfo=timezone.utc)
    )
    results = task_results(run)

    # {{ ds }} = 2026-02-15 and the segment with a quote: only Olga, by the batch.
    state, batch = results[("batch", -1)]
    assert state == "success"
    assert [(o["recipient"], o["status"]) for o in batch["outcomes"]] == [("obrien-olga", "sent")]
    # Positional parameter: both O'Brien contacts, by the sequence.
    state, sequence = results[("sequence", -1)]
    assert state == "success"
    assert sorted(o["recipient"] for o in sequence["outcomes"]) == ["obrien-olga", "obrien-otto"]
    sent = sorted((m["recipientProfileId"], m["message"]) for m in connection.messages())
    assert sent == [("obrien-olga", "Hello Olga"), ("obrien-olga", "Hi Olga"), ("obrien-otto", "Hello Otto")]

    rendered = rendered_fields(run)
    assert rendered[("batch", -1)]["recipients_parameters"] == {
        "since": "2026-02-15",
        "segment": "O'Brien & Co",
    }
    assert rendered[("sequence", -1)]["recipients_parameters"] == ["O'Brien & Co"]

    # A whole-field template renders to text: failed, without retries, before any request.
    assert results[("whole_field_template", -1)] == ("failed", None)
    assert not [m for m in connection.messages() if m["message"] == "never sent"]
    tries = {ti.task_id: ti.try_number for ti in run.get_task_instances()}
    assert tries["whole_field_template"] == 1

    with sqlite3.connect(db) as conn:  # the quote was data, not SQL
        assert conn.execute("SELECT count(*) FROM contacts").fetchone() == (3,)
