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


# --- the weekly window (connection requests) ---------------------------------------------------

# 2026-06-08 is a Monday.
MONDAY = datetime(2026, 6, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "start"),
    [
        (MONDAY, MONDAY),
        (MONDAY + timedelta(microseconds=1), MONDAY),
        (MONDAY - timedelta(microseconds=1), MONDAY - timedelta(days=7)),
        (datetime(2026, 6, 10, 15, 9, 26, tzinfo=UTC), MONDAY),  # Wednesday
        (datetime(2026, 6, 14, 23, 59, 59, 999999, tzinfo=UTC), MONDAY),  # Sunday night
        (datetime(2026, 6, 15, tzinfo=UTC), MONDAY + timedelta(days=7)),
        # Across a month and a year: Thursday 2027-01-01 is in the week of Monday 2026-12-28.
        (datetime(2027, 1, 1, 12, 0, tzinfo=UTC), datetime(2026, 12, 28, tzinfo=UTC)),
        # Leap day: Tuesday 2028-02-29 is in the week of Monday 2028-02-28.
        (datetime(2028, 2, 29, 8, 0, tzinfo=UTC), datetime(2028, 2, 28, tzinfo=UTC)),
        # Monday 00:30 in Paris (UTC+2 in June) is still Sunday in UTC: the week before.
        (datetime(2026, 6, 15, 0, 30, tzinfo=ZoneInfo("Europe/Paris")), MONDAY),
        # Sunday 20:00 in New York is Monday 00:00 UTC: the new week.
        (datetime(2026, 6, 14, 20, 0, tzinfo=ZoneInfo("America/New_York")), MONDAY + timedelta(days=7)),
    ],
)
def test_weekly_window_runs_from_monday_utc(now, start):
    assert caps.weekly_window(now) == (start, start + timedelta(days=7))
    assert start.weekday() == 0 and caps.weekly_window(now)[0].tzinfo == UTC


def test_weekly_window_spans_daylight_saving_changes():
    # The week of Monday 2026-03-23 holds Europe's spring-forward (Sunday 29 March).
    for now in (
        datetime(2026, 3, 29, 1, 59, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(2026, 3, 29, 3, 1, tzinfo=ZoneInfo("Europe/Paris")),
    ):
        start, end = caps.weekly_window(now)
        assert start == datetime(2026, 3, 23, tzinfo=UTC) and end - start == timedelta(days=7)
        assert start <= now < end


def test_weekly_window_follows_the_testing_variable(monkeypatch):
    monkeypatch.setenv(caps.TESTING_CAP_WINDOW_ENV, "5")
    now = datetime(2026, 6, 10, 15, 9, 26, 535, tzinfo=UTC)
    assert caps.weekly_window(now) == caps.window(now)
    assert caps.weekly_window(now) == (
        datetime(2026, 6, 10, 15, 9, 25, tzinfo=UTC),
        datetime(2026, 6, 10, 15, 9, 30, tzinfo=UTC),
    )
    monkeypatch.setenv(caps.TESTING_CAP_WINDOW_ENV, "soon")
    with pytest.raises(ValueError, match=caps.TESTING_CAP_WINDOW_ENV):
        caps.weekly_window(now)
