"""ConnectSafely connections for tests, as Airflow reads them from the environment."""

from __future__ import annotations

import json

#: The emulator's API key in tests (a canary: it must never show up in logs or XCom).
API_KEY = "test-key-3f9a1c"


def connection_json(url: str, key: str = API_KEY, **extra) -> str:
    """An ``AIRFLOW_CONN_...`` value in JSON form pointing at ``url``."""
    conn: dict = {"conn_type": "connectsafely", "host": url, "password": key}
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)
