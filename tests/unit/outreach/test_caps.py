"""The daily cap's window: UTC days, and the testing-only short window (fixed datetimes)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_connectsafely.outreach import caps

UTC = timezone.utc


@pytest.fixture(autouse=True)
def no_testing_window(monkeypatch):
    monkeypatch.delenv(caps.TESTING_CAP_WINDOW_ENV, raising=False)
    monkeypatch.setattr(caps, "_warned", set())


@pytest.mark.parametrize(
    ("now", "start"),
    [
        (datetime(2026, 3, 14, 15, 9, 26, 535, tzinfo=UTC), datetime(2026, 3, 14, tzinfo=UTC)),
        (datetime(2026, 3, 14, 0, 0, tzinfo=UTC), datetime(2026, 3, 14, tzinfo=UTC)),
        (datetime(2026, 3, 14, 23, 59, 59, 999999, tzinfo=UTC), datetime(2026, 3, 14, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC)),
        (datetime(2028, 2, 29, 12, 0, tzinfo=UTC), datetime(2028, 2, 29, tzinfo=UTC)),
        # 00:30 in Paris (UTC+1) on 15 March is still 14 March in UTC.
        (datetime(2026, 3, 15, 0, 30, tzinfo=ZoneInfo("Europe/Paris")), datetime(2026, 3, 14, tzinfo=UTC)),
    ],
)
def test_window_is_the_utc_day(now, start):
    assert caps.window(now) == (start, start + timedelta(days=1))
    assert caps.window(now)[0].tzinfo == UTC


@pytest.mark.parametrize(
    "now",
    [
        # Both sides of the spring-forward and fall-back changes in New York and Paris.
        datetime(2026, 3, 8, 1, 59, tzinfo=ZoneInfo("America/New_York")),
        datetime(2026, 3, 8, 3, 1, tzinfo=ZoneInfo("America/New_York")),
        datetime(2026, 10, 25, 2, 30, fold=0, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris")),
    ],
)
def test_window_ignores_daylight_saving_time(now):
    start, end = caps.window(now)
    assert end - start == timedelta(days=1)
    assert (start.hour, start.minute, start.second, start.microsecond) == (0, 0, 0, 0)
    assert start <= now < end
    assert start.date() == now.astimezone(UTC).date()


def test_testing_window_is_aligned_to_the_epoch(monkeypatch, caplog):
    monkeypatch.setenv(caps.TESTING_CAP_WINDOW_ENV, "5")
    now = datetime(2026, 3, 14, 15, 9, 26, 535, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger=caps.__name__):
        start, end = caps.window(now)
        caps.window(now + timedelta(seconds=7))
    assert (start, end) == (
        datetime(2026, 3, 14, 15, 9, 25, tzinfo=UTC),
        datetime(2026, 3, 14, 15, 9, 30, tzinfo=UTC),
    )
    assert start.timestamp() % 5 == 0
    warnings = [r for r in caplog.records if caps.TESTING_CAP_WINDOW_ENV in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "tests only" in warnings[0].getMessage()


def test_testing_window_boundaries(monkeypatch):
    monkeypatch.setenv(caps.TESTING_CAP_WINDOW_ENV, "60")
    edge = datetime(2026, 3, 14, 15, 10, tzinfo=UTC)
    assert caps.window(edge) == (edge, edge + timedelta(seconds=60))
    assert caps.window(edge - timedelta(microseconds=1)) == (edge - timedelta(seconds=60), edge)
    paris = edge.astimezone(ZoneInfo("Europe/Paris"))
    assert caps.window(paris) == (edge, edge + timedelta(seconds=60))


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "soon"])
def test_testing_window_rejects_bad_values(monkeypatch, value):
    monkeypatch.setenv(caps.TESTING_CAP_WINDOW_ENV, value)
    with pytest.raises(ValueError, match=caps.TESTING_CAP_WINDOW_ENV):
        caps.window(datetime(2026, 3, 14, tzinfo=UTC))


def test_empty_testing_variable_means_utc_days(monkeypatch):
    monkeypatch.setenv(caps.TESTING_CAP_WINDOW_ENV, "")
    now = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
    assert caps.window(now) == (datetime(2026, 3, 14, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC))
