"""A batch of a few hundred recipients against the emulator's request rate, over loopback:
pacing from the ``X-RateLimit-*`` headers keeps it free of 429s, at the pace the limit forces.

A behaviour check, not a performance claim: the lower bound proves the run waited for the
windows, the upper bound (generous) that it did not wait much longer than it had to.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from helpers.connections import API_KEY, connection_json

from airflow_provider_connectsafely.emulator import EmulatorServer
from airflow_provider_connectsafely.testing import isolated_default_ledger

RECIPIENTS = 300
LIMIT = 30  # requests per window
WINDOW = 2.0  # seconds


class _Waits(logging.Handler):
    """The pacer's "waiting" lines (Airflow's logging set-up keeps them from caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "waiting" in record.getMessage():
            self.lines.append(record.getMessage())


def test_a_paced_batch_draws_no_429(monkeypatch, tmp_path):
    from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageBatchOperator

    people = [{"recipient_profile_id": f"lead-{n:03d}", "first_name": f"Lead {n}"} for n in range(RECIPIENTS)]
    operator = SendLinkedInMessageBatchOperator(
        task_id="paced",
        recipients=people,
        message="Hi {{ recipient.first_name }}",
        campaign="rate-pacing",
        daily_limit=0,
        min_interval=0,
        progress_every=0,
    )
    ti = SimpleNamespace(dag_id="rate", task_id="paced", run_id="r1", map_index=-1, try_number=1)
    ti.xcom_push = lambda key, value: None
    context: Any = {"ti": ti, "run_id": "r1"}

    pacing_log = logging.getLogger("airflow_provider_connectsafely.api.pacing")
    waits = _Waits()
    monkeypatch.setattr(pacing_log, "level", logging.INFO)
    with (
        EmulatorServer(api_key=API_KEY, rate_limit=LIMIT, rate_window=WINDOW, daily_limit=10_000) as emulator,
        isolated_default_ledger(tmp_path / "ledger.sqlite"),
    ):
        monkeypatch.setenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", connection_json(emulator.url))
        pacing_log.addHandler(waits)
        try:
            started = time.monotonic()
            result = operator.execute(context)
            elapsed = time.monotonic() - started
        finally:
            pacing_log.removeHandler(waits)
        records = emulator.requests()
        refused = emulator.rate_limit()["refused"]
        delivered = emulator.messages()

    assert result["summary"]["sent"] == RECIPIENTS
    assert len({m["recipientProfileId"] for m in delivered}) == len(delivered) == RECIPIENTS
    assert Counter(r["status"] for r in records) == {200: RECIPIENTS}  # not one 429
    assert refused == 0
    windows = math.ceil(RECIPIENTS / LIMIT)
    assert len(waits.lines) == windows - 1, waits.lines
    # From the first request to the last, as the emulator saw them arrive: the last window
    # cannot open before (windows - 1) full windows have passed. Set-up (the ledger, the
    # templates) is left out, so the upper bound only has to allow for the margins and load.
    arrivals = [datetime.fromisoformat(r["at"].replace("Z", "+00:00")) for r in records]
    span = (max(arrivals) - min(arrivals)).total_seconds()
    forced = (windows - 1) * WINDOW
    assert span >= forced - 0.01  # arrival stamps are in whole milliseconds
    assert span < forced * 1.5, f"{span:.1f} s for {forced:.0f} s of forced waiting"
    assert elapsed >= span
