"""Fixtures for every suite: an isolated AIRFLOW_HOME, the emulator over loopback,
connections, the send ledger on SQLite and PostgreSQL.

Helpers live in ``tests/helpers`` (import ``helpers.<module>``). Nothing happens when this
file is imported: the Airflow home is made in ``pytest_configure``, before any test module
imports Airflow, which reads its configuration on first import.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import postgres
from helpers.connections import API_KEY, connection_json
from helpers.paths import EXAMPLE_DAGS, TEST_DAGS

_HOME: Path | None = None


def pytest_addoption(parser):
    parser.addoption(
        "--travel-to",
        metavar="ISO_DATE",
        help="run the tests with the clock moved to this date (time-machine, ticking): proves "
        "no test depends on today's date",
    )


def pytest_configure(config):
    global _HOME
    _HOME = Path(tempfile.mkdtemp(prefix="connectsafely-airflow-"))
    dags = _HOME / "dags"
    shutil.copytree(EXAMPLE_DAGS, dags)
    shutil.copytree(TEST_DAGS, dags, dirs_exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(_HOME)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
    os.environ.pop("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", None)
    # The example CRM (example_dags/example_crm.py) for the write-back example's SQL operator.
    os.environ["AIRFLOW_CONN_EXAMPLE_CRM"] = json.dumps(
        {"conn_type": "sqlite", "host": str(_HOME / "example_crm.sqlite")}
    )
    # Airflow puts the dags folder on sys.path; the example DAGs import helpers from it.
    sys.path.insert(0, str(dags))
    when = config.getoption("--travel-to")
    if when:
        import time_machine

        config._connectsafely_travel = time_machine.travel(when, tick=True)
        config._connectsafely_travel.start()


def pytest_unconfigure(config):
    travel = getattr(config, "_connectsafely_travel", None)
    if travel is not None:
        travel.stop()
    if _HOME is not None:
        shutil.rmtree(_HOME, ignore_errors=True)


def pytest_report_header(config):
    when = config.getoption("--travel-to")
    return f"clock moved to {when} (time-machine)" if when else None


@pytest.fixture(scope="session")
def dags_folder() -> Path:
    return Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata database (needed by ``dag.test()``)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return Path(os.environ["AIRFLOW_HOME"])


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


@pytest.fixture
def connection(emulator, monkeypatch):
    """``connectsafely_default`` pointing at the emulator, as an environment variable."""
    monkeypatch.setenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", connection_json(emulator.url))
    return emulator


# -- PostgreSQL (Debian's cluster, started here when needed; see ../shared testing notes) ----


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """A test that uses the PostgreSQL server is a ``postgres`` test, marked or not, so that
    ``-m "not postgres"`` (test-python's two runs at once) never starts or stops the cluster
    under another run."""
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_server(request):
    """A running PostgreSQL on 127.0.0.1: Debian's cluster, started for this session and
    stopped afterwards if it was not running before."""
    found = postgres.cluster()
    if found is None or os.geteuid() != 0:
        # Starting Debian's cluster and setting the postgres password need root.
        why = "PostgreSQL is not installed" if found is None else "the PostgreSQL tests need root"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; `make test` installs Debian's postgresql (as root)")
        pytest.skip(f"{why} (run `make test` as root, which installs it)")
    version, name, port, status = found
    started = False
    if status != "online":
        subprocess.run(["pg_ctlcluster", version, name, "start"], check=True)
        started = True
    sql = f"ALTER USER postgres PASSWORD '{postgres.PASSWORD}'"
    subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-q", "-p", str(port), "-c", sql], check=True)
    # pytest-postgresql's noproc fixture reads the port from the options when it starts.
    request.config.option.postgresql_port = str(port)
    yield {"host": "127.0.0.1", "port": port, "user": "postgres", "password": postgres.PASSWORD}
    if started:
        subprocess.run(["pg_ctlcluster", version, name, "stop"], check=False)


def _pg_factories():
    from pytest_postgresql import factories

    # Per-process names, so two test runs on one machine never share a (template) database.
    name = f"connectsafely_{os.getpid()}"
    proc = factories.postgresql_noproc(
        host="127.0.0.1", user="postgres", password=postgres.PASSWORD, dbname=name
    )
    return proc, factories.postgresql("pg_noproc", dbname=name)


pg_noproc, pg_database = _pg_factories()


@pytest.fixture
def postgres_url(postgres_server, pg_database) -> str:
    """A fresh, empty PostgreSQL database for one test, as a SQLAlchemy URL."""
    info = pg_database.info
    return f"postgresql+psycopg://{info.user}:{postgres.PASSWORD}@{info.host}:{info.port}/{info.dbname}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
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
def isolated_default_ledger(tmp_path):
    """Each test gets its own default SQLite ledger, so sends and caps never leak between tests."""
    from airflow_provider_connectsafely.testing import isolated_default_ledger as isolated

    with isolated(tmp_path / "default-ledger.sqlite") as path:
        yield path
