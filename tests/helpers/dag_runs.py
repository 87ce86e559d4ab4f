"""Running DAG files with ``dag.test()`` and reading what the run left behind."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def dags_folder() -> Path:
    """The test session's dags folder (set up by ``tests/conftest.py``)."""
    return Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


def load_dag(dag_id: str, filename: str | None = None):
    """Import a DAG from its file in the dags folder (``dag.test()`` needs that)."""
    path = dags_folder() / (filename or f"{dag_id}.py")
    spec = importlib.util.spec_from_file_location(f"dagfile_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


#: Examples that wait for a person, and the task that asks: dag.test() cannot answer it (it
#: would wait for ever), so runs here mark that task done (approved);
#: tests/deploy/test_local_executor.py answers it for real.
ASKS_A_PERSON = {"connectsafely_approved_send": "approve"}


def run_any_time(dag):
    """``dag.test()``, with a DAG's ``send_window`` param (as the examples have) opened all week:
    a test must not depend on the time of day it runs at. A task that asks a person
    (``ASKS_A_PERSON``) is marked approved."""
    conf = {"send_window": "Mon-Sun 00:00-24:00"} if "send_window" in dag.params else {}
    if dag.dag_id in ASKS_A_PERSON:
        return dag.test(run_conf=conf, mark_success_pattern=ASKS_A_PERSON[dag.dag_id])
    return dag.test(run_conf=conf)


def task_results(dag_run) -> dict[tuple[str, int], tuple[str, object]]:
    """``{(task_id, map_index): (state, return value)}`` of a finished ``dag.test()`` run."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        xcoms = {
            (x.task_id, x.map_index): x.value
            for x in session.query(XComModel).filter_by(
                dag_id=dag_run.dag_id, run_id=dag_run.run_id, key="return_value"
            )
        }
    return {
        (ti.task_id, ti.map_index): (str(ti.state), xcoms.get((ti.task_id, ti.map_index)))
        for ti in dag_run.get_task_instances()
    }


def rendered_fields(dag_run) -> dict[tuple[str, int], dict]:
    """``{(task_id, map_index): rendered template fields}`` of a finished run."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            (r.task_id, r.map_index): r.rendered_fields
            for r in session.query(RenderedTaskInstanceFields).filter_by(
                dag_id=dag_run.dag_id, run_id=dag_run.run_id
            )
        }
