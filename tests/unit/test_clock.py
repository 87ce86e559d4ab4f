"""The one clock: aware UTC, and what the ledger and the sender read unless told otherwise."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_connectsafely.clock import utc_now
from airflow_provider_connectsafely.ledger.records import NewSend
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.outreach.delivery import GuardedSender


def test_utc_now_is_aware_utc():
    now = utc_now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_ledger_rows_and_the_senders_cap_share_the_ledgers_clock(tmp_path):
    fixed = datetime(2040, 2, 29, 23, 59, tzinfo=timezone.utc)
    ledger = SendLedger.sqlite(tmp_path / "l.sqlite", clock=lambda: fixed)
    ledger.claim(NewSend("k", "acct", "ann"))
    assert ledger.get("k").created_at == fixed
    assert ledger.count_since("acct", fixed) == 1
    assert GuardedSender(lambda r: {}, ledger)._clock() == fixed
    ledger.close()
