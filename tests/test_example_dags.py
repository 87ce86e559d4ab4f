"""Every example DAG imports cleanly and runs with ``dag.test()`` against the emulator."""

from __future__ import annotations

import pytest
from conftest import API_KEY, EXAMPLE_DAGS, load_dag, task_results

EXAMPLES = sorted(path.stem for path in EXAMPLE_DAGS.glob("*.py"))


def test_dagbag_imports_every_example_without_errors(dags_folder):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE_DAGS))
    assert bag.import_errors == {}
    assert set(EXAMPLES) <= set(bag.dag_ids)


def test_examples_read_no_connection_at_parse_time(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", raising=False)
    for name in EXAMPLES:
        assert load_dag(name).dag_id == name


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_end_to_end(name, connection, airflow_db):
    run = load_dag(name).test()
    results = task_results(run)
    assert str(run.state) == "success", results
    assert all(state == "success" for state, _ in results.values()), results
    messages = connection.messages()
    sends = [value for (task, _), (_, value) in results.items() if isinstance(value, dict)]
    assert messages and len(messages) == len(sends)
    assert all(answer["success"] is True for answer in sends)
    assert API_KEY not in repr(results)


def test_mapped_example_sends_one_message_per_recipient(connection, airflow_db):
    run = load_dag("connectsafely_mapped_sends").test()
    recipients = sorted(m["recipientProfileId"] for m in connection.messages())
    assert recipients == ["ada-lovelace", "alan-turing", "grace-hopper"]
    mapped = {key: value for key, value in task_results(run).items() if key[0] == "send_welcome"}
    assert sorted(index for _, index in mapped) == [0, 1, 2]
