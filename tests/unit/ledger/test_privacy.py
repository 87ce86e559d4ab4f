"""Retention run by the tasks: once per UTC day per ledger (shared by every worker), only when
``[connectsafely] retain_text_days`` is set, and a bad value named with its fix."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_connectsafely.errors import ConnectSafelyConfigError
from airflow_provider_connectsafely.ledger import locate
from airflow_provider_connectsafely.ledger.privacy import prune_if_due
from airflow_provider_connectsafely.ledger.records import NewSend

NOW = datetime(2025, 6, 3, 12, 0, tzinfo=timezone.utc)


def test_the_tasks_prune_once_a_day(ledger):
    clock = {"now": NOW - timedelta(days=10)}
    ledger.clock = lambda: clock["now"]
    claim = ledger.claim(NewSend("campaign:c:old", "a", "old"))
    ledger.mark_sent("campaign:c:old", claim.token, {"conversationUrn": "c1", "sentMessage": {"text": "hi"}})
    clock["now"] = NOW

    assert prune_if_due(ledger, None) is None
    first = prune_if_due(ledger, 7)
    assert first is not None and first.sends == 1
    assert ledger.get("campaign:c:old").response == {"conversationUrn": "c1"}
    assert prune_if_due(ledger, 7) is None  # done today, by this or another worker
    clock["now"] = NOW + timedelta(days=1)
    again = prune_if_due(ledger, 7)
    assert again is not None and again.sends == 0


@pytest.mark.parametrize(("value", "days"), [("", None), ("30", 30)])
def test_retain_text_days_is_read_from_the_configuration(monkeypatch, value, days):
    monkeypatch.setenv("AIRFLOW__CONNECTSAFELY__RETAIN_TEXT_DAYS", value)
    assert locate.retain_text_days() == days


@pytest.mark.parametrize("value", ["0", "-3", "a week"])
def test_a_bad_retain_text_days_names_the_option_and_the_fix(monkeypatch, value):
    monkeypatch.setenv("AIRFLOW__CONNECTSAFELY__RETAIN_TEXT_DAYS", value)
    with pytest.raises(ConnectSafelyConfigError, match=r"retain_text_days is .* Fix: set a whole number"):
        locate.retain_text_days()
