"""The notifier as task and DAG callbacks in real DAG runs."""

from __future__ import annotations

from importlib.metadata import version

from helpers.dag_runs import load_dag, task_results

AIRFLOW_VERSION = tuple(int(part) for part in version("apache-airflow").split(".")[:2])


def sent(emulator) -> list[tuple[str | None, str]]:
    return [(m["recipientProfileId"] or m["recipientProfileUrn"], m["message"]) for m in emulator.messages()]


def test_callbacks_in_a_dag_run(connection, airflow_db):
    """Task- and DAG-level callbacks in a real ``dag.test()`` run, rendered with its context."""
    run = load_dag("connectsafely_test_notifier").test()
    states = {task: state for (task, _), (state, _) in task_results(run).items()}
    assert states == {"extract": "success", "load": "success", "publish": "failed"}
    assert str(run.state) == "failed"
    ds = run.logical_date.strftime("%Y-%m-%d")
    # Workers always give failure callbacks the exception; Airflow 3.1's dag.test() does not.
    error = "None" if AIRFLOW_VERSION < (3, 2) else "publishing 1 row(s) failed on purpose"
    assert sent(connection) == [
        # default_args on_success_callback: one shared notifier, rendered per task
        ("data-owner", f"extract of connectsafely_test_notifier succeeded for {ds} (try 1)"),
        ("data-owner", f"load of connectsafely_test_notifier succeeded for {ds} (try 1)"),
        # task-level on_failure_callback, with the task's exception
        ("on-call-engineer", f"publish failed: {error}"),
        # DAG-level on_failure_callback (the DAG's on_success_callback does not fire)
        ("urn:li:fsd_profile:ACoAAOnCall", f"Run {run.run_id} failed: task_failure"),
    ]
    assert connection.messages()[-1]["subject"] == "connectsafely_test_notifier failed"


def test_example_dag_notifies_the_data_owner_once(connection, airflow_db):
    run = load_dag("connectsafely_notify_on_failure").test()
    assert str(run.state) == "success"
    ds = run.logical_date.strftime("%Y-%m-%d")
    assert sent(connection) == [
        ("john-doe-123", f"Hi, the CRM sync for {ds} finished: your dashboard is up to date.")
    ]
