"""Fixtures of the deployment tests (``make test-deploy``): a PostgreSQL cluster of their own
for the metadata databases and the shared ledger, and the emulator as a separate process.

Each test module starts one Airflow deployment (LocalExecutor or CeleryExecutor) for all its
tests, and stops every process it started, by process group, even when a test fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.deployment import Emulator
from helpers.pg_cluster import PgCluster


@pytest.fixture(scope="session")
def deploy_pg() -> Iterator[PgCluster]:
    cluster = PgCluster("deploy")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def deploy_emulator(tmp_path_factory) -> Iterator[Emulator]:
    emulator = Emulator(tmp_path_factory.mktemp("emulator"))
    try:
        yield emulator
    finally:
        emulator.stop()
