"""Pytest fixtures for testing DAGs that use this provider, against the local emulator.

Opt-in: enable it in a ``conftest.py`` with::

    pytest_plugins = ["airflow_provider_connectsafely.testing.pytest_plugin"]

Fixtures:

- ``connectsafely_emulator``: the emulator (started once per session on a free loopback
  port, reset before and after each test), with the connection pointing at it and a
  default send ledger of the test's own.
- ``connectsafely_conn_id``: the connection id ``connectsafely_emulator`` sets (default
  ``connectsafely_default``); override it to test DAGs that use another one.
- ``connectsafely_short_cap_window``: a function shortening the daily cap's window to a few
  seconds for one test.
- ``connectsafely_emulator_session``: the session's emulator itself (not reset; prefer
  ``connectsafely_emulator``).

Imports no Airflow: projects load this in every test session. See ``docs/testing.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_provider_connectsafely.defaults import CONN_ID
from airflow_provider_connectsafely.testing import (
    TEST_API_KEY,
    TESTING_CAP_WINDOW_ENV,
    connection_env_var,
    connection_json,
    isolated_default_ledger,
)

if TYPE_CHECKING:
    from airflow_provider_connectsafely.emulator import EmulatorServer


@pytest.fixture(scope="session")
def connectsafely_emulator_session() -> Iterator[EmulatorServer]:
    """The emulator on ``127.0.0.1`` and a free port, for the whole session (key
    :data:`~airflow_provider_connectsafely.testing.TEST_API_KEY`)."""
    from airflow_provider_connectsafely.emulator import EmulatorServer

    with EmulatorServer(api_key=TEST_API_KEY, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def connectsafely_conn_id() -> str:
    """The connection id ``connectsafely_emulator`` points at the emulator; override this
    fixture (or parametrize it) for DAGs that set ``connectsafely_conn_id``."""
    return CONN_ID


@pytest.fixture
def connectsafely_emulator(
    connectsafely_emulator_session: EmulatorServer,
    connectsafely_conn_id: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[EmulatorServer]:
    """The emulator, emptied, with ``AIRFLOW_CONN_<CONN_ID>`` pointing at it and the default
    send ledger at ``tmp_path / "connectsafely-ledger.sqlite"``; all undone after the test.

    Read ``messages()``, ``requests()``, ``request_counts()``; queue faults with
    ``inject(...)``; make people answer with ``reply(...)``.
    """
    server = connectsafely_emulator_session
    server.reset()
    monkeypatch.setenv(connection_env_var(connectsafely_conn_id), connection_json(server.url))
    with isolated_default_ledger(tmp_path / "connectsafely-ledger.sqlite"):
        try:
            yield server
        finally:
            server.reset()


@pytest.fixture
def connectsafely_short_cap_window(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], int]:
    """A function ``(seconds) -> seconds`` that makes the daily cap's window ``seconds`` long
    (aligned to the Unix epoch) for this test, through ``CONNECTSAFELY_TESTING_CAP_WINDOW_SECONDS``
    (undone after the test)."""

    def shorten(seconds: int) -> int:
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
            raise ValueError(f"the cap window must be a whole number of seconds above 0, got {seconds!r}")
        monkeypatch.setenv(TESTING_CAP_WINDOW_ENV, str(seconds))
        return seconds

    return shorten
