"""The page's queries on SQLite and PostgreSQL: the CSV download's pages cover every matching
row exactly once (ties on ``updated_at`` included)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_connectsafely.ledger.records import NewSend
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.plugins import data

NOW = datetime(2031, 3, 15, 10, 30, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger(request, tmp_path):
    clock = Clock()
    if request.param == "sqlite":
        found = SendLedger.sqlite(tmp_path / "ledger.sqlite", clock=clock)
    else:
        found = SendLedger.from_url(request.getfixturevalue("postgres_url"), clock=clock)
    yield found
    found.close()


def test_the_csv_reads_every_matching_row_once_across_pages(ledger, monkeypatch):
    monkeypatch.setattr(data, "_CSV_CHUNK", 7)
    for i in range(40):
        ledger.clock.now = NOW - timedelta(minutes=i // 5)  # five rows share each time
        key = f"campaign:{'spring' if i % 4 else 'fall'}:p{i:02d}"
        claim = ledger.claim(NewSend(key, "acct-1", f"p{i:02d}"))
        ledger.mark_sent(key, claim.token, {})

    text = "".join(data.sends_csv(ledger, data.SendFilter(campaign="batch:spring")))

    keys = [row[0] for row in list(csv.reader(io.StringIO(text)))[1:]]
    assert len(keys) == len(set(keys)) == 30
    assert set(keys) == {f"campaign:spring:p{i:02d}" for i in range(40) if i % 4}
    everything = "".join(data.sends_csv(ledger))
    assert len(list(csv.reader(io.StringIO(everything)))) == 41
