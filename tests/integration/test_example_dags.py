"""Every example DAG imports cleanly and runs with ``dag.test()`` against the emulator."""

from __future__ import annotations

import pytest
from helpers.connections import API_KEY
from helpers.dag_runs import load_dag, run_any_time, task_results
from helpers.paths import EXAMPLE_DAGS

# DAG files only: example_dags/ also holds a helper module for the CRM examples.
EXAMPLES = sorted(path.stem for path in EXAMPLE_DAGS.glob("*.py") if "DAG(" in path.read_text())


def test_dagbag_imports_every_example_without_errors(dags_folder):
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    bag = DagBag(dag_folder=str(dags_folder))
    assert bag.import_errors == {}
    assert set(EXAMPLES) <= set(bag.dag_ids)


def test_examples_read_no_connection_at_parse_time(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", raising=False)
    for name in EXAMPLES:
        assert load_dag(name).dag_id == name


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_end_to_end(name, connection, airflow_db):
    dag = load_dag(name)
    run = run_any_time(dag)
    results = task_results(run)
    assert str(run.state) == "success", results
    assert all(state == "success" for state, _ in results.values()), results
    answers = [value for value in (v for _, v in results.values()) if isinstance(value, dict)]
    assert all(answer.get("success", True) is True for answer in answers)
    assert len(connection.messages()) == len({m["seq"] for m in connection.messages()})
    assert API_KEY not in repr(results)


def test_mapped_example_sends_one_message_per_recipient(connection, airflow_db):
    run = load_dag("connectsafely_mapped_sends").test()
    recipients = sorted(m["recipientProfileId"] for m in connection.messages())
    assert recipients == ["ada-lovelace", "alan-turing", "grace-hopper"]
    mapped = {key: value for key, value in task_results(run).items() if key[0] == "send_welcome"}
    assert sorted(index for _, index in mapped) == [0, 1, 2]


def test_single_send_examples_send_what_they_return(connection, airflow_db):
    for name in ("connectsafely_scheduled_send", "connectsafely_inmail"):
        connection.reset()
        results = task_results(load_dag(name).test())
        [(state, answer)] = results.values()
        assert state == "success"
        [message] = connection.messages()
        assert answer["recipientProfileUrn"].startswith("urn:li:fsd_profile:")
        assert message["message"].strip()


def test_crm_outreach_after_a_load_and_never_twice(connection, airflow_db):
    from example_crm import connect, crm_path

    crm_path().unlink(missing_ok=True)
    assert str(load_dag("connectsafely_crm_load").test().state) == "success"
    first = task_results(load_dag("connectsafely_crm_outreach").test())
    summary = first[("write_back", -1)][1]
    assert summary["sent"] == 5 and summary["failed"] == 0  # the 6th contact gave no consent
    messages = connection.messages()
    assert len(messages) == 5
    assert messages[0]["message"].startswith("Hi Ada, thanks for your interest")
    with connect() as db:
        statuses = db.execute("SELECT outreach_status, count(*) FROM contacts GROUP BY 1").fetchall()
    assert [tuple(row) for row in statuses] == [("sent", 5)]

    # Run it again: nobody new, nothing sent.
    again = task_results(load_dag("connectsafely_crm_outreach").test())
    assert again[("write_back", -1)][1]["total"] == 0
    # Offered every contact again (as `make demo` does): the ledger reports them already sent.
    offered = task_results(load_dag("connectsafely_crm_outreach").test(run_conf={"include_contacted": True}))
    assert offered[("write_back", -1)][1]["skipped"] == 5 and offered[("write_back", -1)][1]["sent"] == 0
    # Even if the CRM write-back were lost, the ledger stops a second message.
    with connect() as db:
        db.execute("UPDATE contacts SET contacted_at = NULL")
    lost = task_results(load_dag("connectsafely_crm_outreach").test())
    assert lost[("write_back", -1)][1]["skipped"] == 5
    assert len(connection.messages()) == 5


def test_approved_send_sends_what_the_dry_run_previewed(connection, airflow_db):
    from airflow_provider_connectsafely.outreach.preview import campaign_preview

    results = task_results(load_dag("connectsafely_approved_send").test(mark_success_pattern="approve"))
    preview = results[("dry_run", -1)][1]
    assert preview["summary"]["would_send"] == 5 and preview["summary"]["sent"] == 0
    sent = results[("send", -1)][1]
    assert sent["summary"]["sent"] == 5
    messages = {m["recipientProfileId"]: m["message"] for m in connection.messages()}
    shown = campaign_preview(preview, messages=5)
    assert len(messages) == 5 and all(f"```text\n{text}\n```" in shown for text in messages.values())


def crm_rows() -> dict[str, dict]:
    from example_crm import connect

    with connect() as db:
        rows = db.execute("SELECT first_name, last_outcome, last_contacted_at, replied_at FROM contacts")
        return {row["first_name"]: dict(row) for row in rows}


def test_campaign_outcomes_are_written_back_to_the_crm(connection, airflow_db):
    from example_crm import crm_path

    crm_path().unlink(missing_ok=True)
    assert str(load_dag("connectsafely_crm_load").test().state) == "success"
    assert str(load_dag("connectsafely_crm_outreach").test().state) == "success"
    assert str(load_dag("connectsafely_crm_write_back").test().state) == "success"
    rows = crm_rows()
    assert {name: row["last_outcome"] for name, row in rows.items()} == dict.fromkeys(rows, "sent")
    assert all(row["last_contacted_at"] and row["replied_at"] is None for row in rows.values())
    contacted = {name: row["last_contacted_at"] for name, row in rows.items()}

    # A sequence whose second run finds Grace's reply: its event's rows carry replied_at.
    assert str(load_dag("connectsafely_crm_sequence").test().state) == "success"
    connection.reply(profile_id="grace-hopper-1906", text="Let's talk")
    assert str(load_dag("connectsafely_crm_sequence").test().state) == "success"
    assert str(load_dag("connectsafely_crm_write_back").test().state) == "success"
    rows = crm_rows()
    assert rows["Grace"]["last_outcome"] == "replied" and rows["Grace"]["replied_at"]
    assert all(rows[name]["replied_at"] is None for name in rows if name != "Grace")
    assert all(rows[name]["last_contacted_at"] >= contacted[name] for name in rows)


def test_write_back_reads_the_rows_from_xcom_when_the_event_only_points_to_them(
    connection, airflow_db, monkeypatch
):
    from example_crm import crm_path

    from airflow_provider_connectsafely import defaults

    monkeypatch.setattr(defaults, "ASSET_EVENT_OUTCOMES", 1)  # 5 rows: the event holds a pointer
    crm_path().unlink(missing_ok=True)
    assert str(load_dag("connectsafely_crm_load").test().state) == "success"
    outreach = task_results(load_dag("connectsafely_crm_outreach").test())
    assert outreach[("send_welcome", -1)][1]["summary"]["sent"] == 5
    assert str(load_dag("connectsafely_crm_write_back").test().state) == "success"
    rows = crm_rows()
    assert {name: row["last_outcome"] for name, row in rows.items()} == dict.fromkeys(rows, "sent")


def test_crm_unsubscribes_example_fills_the_do_not_contact_list(
    connection, airflow_db, isolated_default_ledger
):
    from airflow_provider_connectsafely.ledger.store import SendLedger

    results = task_results(load_dag("connectsafely_crm_unsubscribes").test())

    assert results[("sync", -1)][0] == "success"
    ledger = SendLedger.sqlite(isolated_default_ledger)
    try:
        [entry] = ledger.suppressions()
        assert (entry.person, entry.scope, entry.source, entry.created_by) == (
            "grace-hopper-1906",
            "",
            "import",
            "crm sync",
        )
    finally:
        ledger.close()
    assert connection.requests() == []  # a sync calls no API
