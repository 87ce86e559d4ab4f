"""Shared fixtures: an isolated AIRFLOW_HOME, the emulator over loopback, connections."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO / "example_dags"
TEST_DAGS = Path(__file__).resolve().parent / "dags"
API_KEY = "test-key-3f9a1c"

# Airflow reads its configuration on first import: point it at a throwaway home first.
_HOME = Path(tempfile.mkdtemp(prefix="connectsafely-airflow-"))
_DAGS = _HOME / "dags"
shutil.copytree(EXAMPLE_DAGS, _DAGS)
shutil.copytree(TEST_DAGS, _DAGS, dirs_exist_ok=True)
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_DAGS)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ.pop("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", None)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def dags_folder() -> Path:
    return _DAGS


def load_dag(dag_id: str, filename: str | None = None):
    """Import a DAG from its file in the dags folder (``dag.test()`` needs that)."""
    import importlib.util

    path = _DAGS / (filename or f"{dag_id}.py")
    spec = importlib.util.spec_from_file_location(f"dagfile_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


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
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            (r.task_id, r.map_index): r.rendered_fields
            for r in session.query(RenderedTaskInstanceFields).filter_by(
                dag_id=dag_run.dag_id, run_id=dag_run.run_id
            )
        }


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata database (needed by ``dag.test()``)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _HOME


@pytest.fixture(scope="session")
def emulator_server():
    from airflow_provider_connectsafely.emulator import EmulatorServer

    with EmulatorServer(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def emulator(emulator_server):
    """The session's emulator, emptied before each test."""
    emulator_server.reset()
    yield emulator_server
    emulator_server.reset()


def connection_json(url: str, key: str = API_KEY, **extra) -> str:
    conn: dict = {"conn_type": "connectsafely", "host": url, "password": key}
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)


@pytest.fixture
def connection(emulator, monkeypatch):
    """``connectsafely_default`` pointing at the emulator, as an environment variable."""
    monkeypatch.setenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", connection_json(emulator.url))
    return emulator
