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
# Airflow puts the dags folder on sys.path; the example DAGs import helpers from it.
sys.path.insert(0, str(_DAGS))


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


# -- PostgreSQL (Debian's cluster, started here when needed; see ../shared testing notes) ----

PG_PASSWORD = "connectsafely-tests"


def _pg_cluster() -> tuple[str, str, int, str] | None:
    """(version, name, port, status) of the first Debian PostgreSQL cluster, if any."""
    if not shutil.which("pg_lsclusters"):
        return None
    out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            return parts[0], parts[1], int(parts[2]), parts[3]
    return None


_CLUSTER = _pg_cluster()
_PG_PORT = _CLUSTER[2] if _CLUSTER else 5432


@pytest.fixture(scope="session")
def postgres_server():
    """A running PostgreSQL on 127.0.0.1: Debian's cluster, started for this session and
    stopped afterwards if it was not running before."""
    if _CLUSTER is None or os.geteuid() != 0:
        # Starting Debian's cluster and setting the postgres password need root.
        why = "PostgreSQL is not installed" if _CLUSTER is None else "the PostgreSQL tests need root"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; `make test` installs Debian's postgresql (as root)")
        pytest.skip(f"{why} (run `make test` as root, which installs it)")
    version, name, port, _status = _CLUSTER
    started = False
    if _pg_cluster()[3] != "online":  # type: ignore[index]
        subprocess.run(["pg_ctlcluster", version, name, "start"], check=True)
        started = True
    sql = f"ALTER USER postgres PASSWORD '{PG_PASSWORD}'"
    subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-q", "-p", str(port), "-c", sql], check=True)
    yield {"host": "127.0.0.1", "port": port, "user": "postgres", "password": PG_PASSWORD}
    if started:
        subprocess.run(["pg_ctlcluster", version, name, "stop"], check=False)


def _pg_factories():
    from pytest_postgresql import factories

    proc = factories.postgresql_noproc(host="127.0.0.1", port=_PG_PORT, user="postgres", password=PG_PASSWORD)
    # A per-process name, so two test runs on one machine never share a template database.
    return proc, factories.postgresql("pg_noproc", dbname=f"connectsafely_{os.getpid()}")


pg_noproc, pg_database = _pg_factories()


@pytest.fixture
def postgres_url(postgres_server, pg_database) -> str:
    """A fresh, empty PostgreSQL database for one test, as a SQLAlchemy URL."""
    info = pg_database.info
    return f"postgresql+psycopg://{info.user}:{PG_PASSWORD}@{info.host}:{info.port}/{info.dbname}"


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    """A send ledger on SQLite and on a real PostgreSQL."""
    from airflow_provider_connectsafely.ledger.store import SendLedger

    if request.param == "sqlite":
        store = SendLedger.sqlite(tmp_path / "ledger.sqlite")
    else:
        store = SendLedger.from_url(request.getfixturevalue("postgres_url"))
    yield store
    store.close()


@pytest.fixture(autouse=True)
def isolated_default_ledger(tmp_path, monkeypatch):
    """Each test gets its own default SQLite ledger, so sends and caps never leak between tests."""
    from airflow_provider_connectsafely.ledger import connection

    path = tmp_path / "default-ledger.sqlite"
    monkeypatch.setattr(connection, "default_ledger_path", lambda: path)
    yield path
    opened = connection._OPEN.pop(f"default:{path}", None)
    if opened is not None:
        opened.close()
