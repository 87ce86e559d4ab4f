"""Test tooling for projects whose DAGs use this provider.

The pytest plugin (:mod:`.pytest_plugin`, opt-in: ``pytest_plugins =
["airflow_provider_connectsafely.testing.pytest_plugin"]`` in a ``conftest.py``) builds on the
functions here; they are public, so other test runners can use them too. Nothing here imports
Airflow. See ``docs/testing.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow_provider_connectsafely.outreach.caps import TESTING_CAP_WINDOW_ENV

#: The API key the emulator expects in tests (never a real key).
TEST_API_KEY = "connectsafely-test-key"

__all__ = [
    "TESTING_CAP_WINDOW_ENV",
    "TEST_API_KEY",
    "connection_env_var",
    "connection_json",
    "isolated_default_ledger",
]


def connection_env_var(conn_id: str) -> str:
    """The environment variable Airflow reads a connection from.

    :param conn_id: the connection id, e.g. ``connectsafely_default``.
    :returns: e.g. ``AIRFLOW_CONN_CONNECTSAFELY_DEFAULT``.
    """
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def connection_json(url: str, api_key: str = TEST_API_KEY, **extra: Any) -> str:
    """A ``connectsafely`` connection in Airflow's JSON form, for an ``AIRFLOW_CONN_*`` variable.

    :param url: the API's base URL, e.g. the emulator's ``url``.
    :param api_key: the key sent as bearer token.
    :param extra: the connection's extras (e.g. ``account_id``, ``timeout``).
    :returns: the JSON text.
    """
    conn: dict[str, Any] = {"conn_type": "connectsafely", "host": url, "password": api_key}
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)


@contextmanager
def isolated_default_ledger(path: Path) -> Iterator[Path]:
    """Make the default send ledger (used when no ``ledger_conn_id`` is set) the SQLite file
    ``path`` while the block runs; on exit, close that ledger and drop it from the per-process
    cache, and restore the default location (a file under ``$AIRFLOW_HOME``).

    :param path: the SQLite file, e.g. under pytest's ``tmp_path``; created on first send.
    :returns: a context manager yielding ``path``.
    """
    from airflow_provider_connectsafely.ledger import locate

    original = locate.default_ledger_path
    locate.default_ledger_path = lambda: path
    try:
        yield path
    finally:
        locate.default_ledger_path = original
        opened = locate._OPEN.pop(f"sqlite:///{path}", None)
        if opened is not None:
            opened.close()
