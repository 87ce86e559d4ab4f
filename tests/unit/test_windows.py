"""The public sending-window API (``airflow_provider_connectsafely.windows``): open or closed,
the next opening across week ends, midnight and both DST changes, and the argument errors.
Fixed dates only; no Airflow."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from helpers.paths import REPO

from airflow_provider_connectsafely.windows import SendWindow

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_public_class_is_the_one_the_operators_use():
    from airflow_provider_connectsafely.outreach import windows as internal

    assert SendWindow is internal.SendWindow
    assert SendWindow.parse("Mon-Fri 09:00-17:30") == SendWindow.parse(" Mon-Fri 09:00-17:30 ")


def test_importing_it_pulls_in_neither_airflow_nor_pendulum():
    code = (
        "import sys\n"
        "from airflow_provider_connectsafely.windows import SendWindow\n"
        "SendWindow.parse('Mon-Fri 09:00-17:30')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'pendulum'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]


# -- open or closed, on the person's clock -------------------------------------------------

# 2026-06-01 is a Monday; Berlin is on CEST (UTC+2), New York on EDT (UTC-4).
assert date(2026, 6, 1).weekday() == 0


@pytest.mark.parametrize(
    ("local", "is_open"),
    [
        (datetime(2026, 6, 1, 8, 59, 59, tzinfo=BERLIN), False),
        (datetime(2026, 6, 1, 9, 0, tzinfo=BERLIN), True),
        (datetime(2026, 6, 1, 17, 29, 59, tzinfo=BERLIN), True),
        (datetime(2026, 6, 1, 17, 30, tzinfo=BERLIN), False),
        (datetime(2026, 6, 3, 12, 0, tzinfo=BERLIN), True),  # Wednesday
        (datetime(2026, 6, 6, 12, 0, tzinfo=BERLIN), False),  # Saturday
    ],
)
def test_open_and_closed(local, is_open):
    window = SendWindow.parse("Mon-Fri 09:00-17:30")
    assert window.is_open(local, "Europe/Berlin") is is_open
    # The same instant at another offset gives the same answer: only the zone's clock counts.
    assert window.is_open(local.astimezone(UTC), "Europe/Berlin") is is_open


def test_the_zone_decides_not_the_offset_of_at():
    window = SendWindow.parse("Mon-Fri 09:00-17:30")
    at = utc(2026, 6, 1, 14)  # 16:00 in Berlin, 10:00 in New York, 23:00 in Tokyo
    assert window.is_open(at, "Europe/Berlin")
    assert window.is_open(at, "America/New_York")
    assert not window.is_open(at, "Asia/Tokyo")
    assert window.next_open(at, "Asia/Tokyo") == utc(2026, 6, 2, 0)  # Tuesday 09:00 JST


def test_next_open_is_at_itself_while_open_and_in_utc():
    window = SendWindow.parse("Mon-Fri 09:00-17:30")
    at = datetime(2026, 6, 1, 10, 15, tzinfo=BERLIN)
    opens = window.next_open(at, "Europe/Berlin")
    assert opens == at and opens.tzinfo == UTC and opens == utc(2026, 6, 1, 8, 15)


# -- next_open across a weekend ------------------------------------------------------------


@pytest.mark.parametrize(
    "local",
    [
        datetime(2026, 6, 5, 17, 30, tzinfo=NEW_YORK),  # Friday, as it closes
        datetime(2026, 6, 6, 3, 0, tzinfo=NEW_YORK),  # Saturday night
        datetime(2026, 6, 7, 23, 59, tzinfo=NEW_YORK),  # Sunday, a minute before midnight
        datetime(2026, 6, 8, 8, 59, tzinfo=NEW_YORK),  # Monday, a minute early
    ],
)
def test_next_open_across_a_weekend(local):
    window = SendWindow.parse("Mon-Fri 09:00-17:30")
    assert window.next_open(local, "America/New_York") == datetime(2026, 6, 8, 9, 0, tzinfo=NEW_YORK)
    assert not window.is_open(local, "America/New_York")


def test_several_rules_and_ranges():
    window = SendWindow.parse("Mon,Wed 09:00-12:00,14:00-17:00; Sat 10:00-12:00")
    assert window.next_open(utc(2026, 6, 1, 12, 30), "UTC") == utc(2026, 6, 1, 14)  # the lunch gap
    assert window.next_open(utc(2026, 6, 3, 17), "UTC") == utc(2026, 6, 6, 10)  # Wednesday: Saturday
    assert window.next_open(utc(2026, 6, 6, 12), "UTC") == utc(2026, 6, 8, 9)  # Saturday: Monday


# -- a range crossing midnight belongs to the day it starts --------------------------------


def test_a_range_crossing_midnight():
    window = SendWindow.parse("Mon-Fri 22:00-02:00")
    assert window.is_open(datetime(2026, 6, 1, 23, 0, tzinfo=BERLIN), "Europe/Berlin")  # Monday night
    assert window.is_open(datetime(2026, 6, 2, 1, 59, tzinfo=BERLIN), "Europe/Berlin")  # from Monday
    assert not window.is_open(datetime(2026, 6, 1, 1, 0, tzinfo=BERLIN), "Europe/Berlin")  # Sunday's
    assert window.is_open(datetime(2026, 6, 6, 1, 0, tzinfo=BERLIN), "Europe/Berlin")  # Friday's
    assert not window.is_open(datetime(2026, 6, 6, 23, 0, tzinfo=BERLIN), "Europe/Berlin")  # Saturday
    assert window.next_open(datetime(2026, 6, 6, 3, 0, tzinfo=BERLIN), "Europe/Berlin") == datetime(
        2026, 6, 8, 22, 0, tzinfo=BERLIN
    )


def test_24_00_ends_at_midnight():
    window = SendWindow.parse("Fri 18:00-24:00")
    assert window.is_open(utc(2026, 6, 5, 23, 59, 59), "UTC")
    assert not window.is_open(utc(2026, 6, 6, 0, 0), "UTC")


# -- daylight saving time ------------------------------------------------------------------

# Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
# America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.


@pytest.mark.parametrize(
    ("zone", "saturday_evening", "sunday_nine", "monday_nine"),
    [
        # Spring: the Monday morning opening moves an hour earlier in UTC.
        ("Europe/Berlin", utc(2026, 3, 28, 20), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)),
        ("America/New_York", utc(2026, 3, 7, 23), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)),
        # Autumn: an hour later.
        ("Europe/Berlin", utc(2026, 10, 24, 19), utc(2026, 10, 25, 8), utc(2026, 10, 26, 8)),
        ("America/New_York", utc(2026, 10, 31, 22), utc(2026, 11, 1, 14), utc(2026, 11, 2, 14)),
    ],
)
def test_nine_oclock_follows_the_clock_over_both_changes(zone, saturday_evening, sunday_nine, monday_nine):
    assert SendWindow.parse("Sun 09:00-17:00").next_open(saturday_evening, zone) == sunday_nine
    assert SendWindow.parse("Mon-Fri 09:00-17:00").next_open(saturday_evening, zone) == monday_nine


def test_spring_a_start_in_the_skipped_hour_opens_when_the_clock_jumps():
    window = SendWindow.parse("Sun 02:30-04:00")
    # Berlin: 01:59:59 CET is followed by 03:00 CEST (01:00 UTC).
    assert window.next_open(utc(2026, 3, 28, 12), "Europe/Berlin") == utc(2026, 3, 29, 1)
    assert not window.is_open(utc(2026, 3, 29, 0, 59, 59), "Europe/Berlin")
    assert window.is_open(utc(2026, 3, 29, 1), "Europe/Berlin")
    assert not window.is_open(utc(2026, 3, 29, 2), "Europe/Berlin")  # 04:00 CEST: closed
    # New York: 01:59:59 EST is followed by 03:00 EDT (07:00 UTC).
    assert window.next_open(utc(2026, 3, 7, 12), "America/New_York") == utc(2026, 3, 8, 7)


def test_spring_a_range_wholly_in_the_skipped_hour_waits_a_week():
    window = SendWindow.parse("Sun 02:10-02:50")
    assert window.next_open(utc(2026, 3, 28, 12), "Europe/Berlin") == datetime(
        2026, 4, 5, 2, 10, tzinfo=BERLIN
    )
    assert window.next_open(utc(2026, 3, 7, 12), "America/New_York") == datetime(
        2026, 3, 15, 2, 10, tzinfo=NEW_YORK
    )


def test_autumn_in_the_repeated_hour_the_first_pass_counts():
    # Berlin shows 02:00-02:59 twice: CEST (00:00-00:59 UTC), then CET (01:00-01:59 UTC).
    opens_in_it = SendWindow.parse("Sun 02:30-04:00")
    assert opens_in_it.next_open(utc(2026, 10, 24, 12), "Europe/Berlin") == utc(2026, 10, 25, 0, 30)
    assert opens_in_it.is_open(utc(2026, 10, 25, 1, 15), "Europe/Berlin")  # 02:15 CET: still open
    assert opens_in_it.is_open(utc(2026, 10, 25, 2, 59), "Europe/Berlin")  # 03:59 CET
    assert not opens_in_it.is_open(utc(2026, 10, 25, 3), "Europe/Berlin")  # 04:00 CET

    closes_in_it = SendWindow.parse("Sun 01:00-02:30")
    assert closes_in_it.is_open(utc(2026, 10, 25, 0, 29), "Europe/Berlin")  # 02:29 CEST
    assert not closes_in_it.is_open(utc(2026, 10, 25, 1, 15), "Europe/Berlin")  # 02:15 CET: not again
    assert closes_in_it.next_open(utc(2026, 10, 25, 1, 15), "Europe/Berlin") == datetime(
        2026, 11, 1, 1, 0, tzinfo=BERLIN
    )


def test_autumn_in_new_york():
    # New York shows 01:00-01:59 twice: EDT (05:00-05:59 UTC), then EST (06:00-06:59 UTC).
    window = SendWindow.parse("Sun 01:30-01:45")
    assert window.next_open(utc(2026, 10, 31, 12), "America/New_York") == utc(2026, 11, 1, 5, 30)
    assert window.is_open(utc(2026, 11, 1, 5, 40), "America/New_York")  # 01:40 EDT
    assert not window.is_open(utc(2026, 11, 1, 6, 40), "America/New_York")  # 01:40 EST: not again


def test_a_night_range_over_a_change_is_as_long_as_the_clock_says():
    window = SendWindow.parse("Sat 22:00-04:00")
    # Spring in Berlin: five hours.
    assert window.is_open(utc(2026, 3, 29, 1, 59), "Europe/Berlin")  # 03:59 CEST
    assert not window.is_open(utc(2026, 3, 29, 2), "Europe/Berlin")  # 04:00 CEST
    # Autumn in Berlin: seven hours.
    assert window.is_open(utc(2026, 10, 25, 2, 59), "Europe/Berlin")  # 03:59 CET
    assert not window.is_open(utc(2026, 10, 25, 3), "Europe/Berlin")  # 04:00 CET


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "at",
    [datetime(2026, 6, 1, 9, 0), "2026-06-01T09:00:00+00:00", date(2026, 6, 1), None, 1780304400],
)
@pytest.mark.parametrize("method", ["is_open", "next_open"])
def test_at_must_be_an_aware_datetime(method, at):
    window = SendWindow.parse("Mon-Fri 09:00-17:30")
    with pytest.raises(ValueError) as info:
        getattr(window, method)(at, "Europe/Berlin")
    message = str(info.value)
    assert message.startswith("Invalid `at`: ")
    assert "Fix: pass an aware datetime, e.g. datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)" in message


def test_a_naive_datetime_is_named_as_such():
    with pytest.raises(ValueError, match=r"Invalid `at`: 2026-06-01T09:00:00 has no time zone\. Fix: "):
        SendWindow.parse("Mon-Fri 09:00-17:30").is_open(datetime(2026, 6, 1, 9, 0), "UTC")


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe", "", " ", None, 1, ZoneInfo("Europe/Berlin")])
@pytest.mark.parametrize("method", ["is_open", "next_open"])
def test_zone_must_be_an_iana_name(method, zone):
    window = SendWindow.parse("Mon-Fri 09:00-17:30")
    with pytest.raises(ValueError) as info:
        getattr(window, method)(utc(2026, 6, 1, 9), zone)
    message = str(info.value)
    assert message.startswith("Invalid `zone`: ")
    assert "Fix: use a tz database name such as 'Europe/Berlin', 'America/New_York' or 'UTC'" in message


def test_zone_names_are_stripped():
    assert SendWindow.parse("Mon-Fri 09:00-17:30").is_open(utc(2026, 6, 1, 9), " Europe/Berlin ")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Mon-Fri", "is not '<days> <HH:MM-HH:MM>'"),
        ("Funday 09:00-10:00", "'Funday' is not a day name"),
        ("Mon-Fri 09:00-09:00", "starts and ends at the same time"),
        ("", "expected a window"),
    ],
)
def test_a_bad_window_is_a_value_error_with_the_fix(text, words):
    with pytest.raises(ValueError) as info:
        SendWindow.parse(text)
    assert words in str(info.value) and "Fix: " in str(info.value)
