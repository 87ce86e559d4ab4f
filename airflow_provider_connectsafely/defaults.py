"""Defaults with one home: every layer reads them from here (no imports, no Airflow)."""

from __future__ import annotations

from datetime import timedelta

#: The Airflow connection the hook, operators and notifier use unless told otherwise.
CONN_ID = "connectsafely_default"
#: The API root when a connection names no host.
BASE_URL = "https://api.connectsafely.ai"
#: Read timeout for one request, in seconds (the connection's ``timeout`` extra overrides it).
TIMEOUT = 30.0
#: Connect timeout for one request, in seconds.
CONNECT_TIMEOUT = 10.0
#: Longest 429 wait, in seconds, sat out inside a task before deferring instead.
MAX_RATE_LIMIT_WAIT = 60.0
#: ConnectSafely's documented default: 150 messages per LinkedIn account per UTC day.
DAILY_LIMIT = 150
#: Longest total time a task may spend deferred waiting for limits to reset.
MAX_DEFER = timedelta(hours=25)
#: How long a ``pending`` ledger row claimed by another task counts as a send in progress.
IN_FLIGHT_FOR = timedelta(minutes=15)
