"""Sending windows: parsing, and the moments they open and close on a local clock, across
both DST changes, midnight and week ends (fixed dates only; no Airflow)."""

from __future__ import annotations

import bisect
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_connectsafely.errors import ConnectSafelyValidationError
from airflow_provider_connectsafely.outreach.windows import (
    DAY_NAMES,
    SendWindow,
    check_timezone,
    zone_of,
)

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def opening(text: str, at: datetime, tz: str) -> tuple[datetime, datetime]:
    return SendWindow.parse(text).opening(at, tz)


# -- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days", "ranges"),
    [
        ("Mon-Fri 09:00-17:30", {0, 1, 2, 3, 4}, ((9 * 3600, 17 * 3600 + 1800),)),
        ("Mon,Wed,Fri 09:00-12:00,14:00-17:30", {0, 2, 4}, ((32400, 43200), (50400, 63000))),
        ("Sat-Sun 10:00-12:00", {5, 6}, ((36000, 43200),)),
        ("Fri-Mon 10:00-12:00", {4, 5, 6, 0}, ((36000, 43200),)),
        ("Mon-Wed,Fri 10:00-12:00", {0, 1, 2, 4}, ((36000, 43200),)),
        ("monday-FRIDAY 10:00-12:00", {0, 1, 2, 3, 4}, ((36000, 43200),)),
        ("Mon - Fri  09:00 - 17:30", {0, 1, 2, 3, 4}, ((32400, 63000),)),
        ("09:00-17:00", set(range(7)), ((32400, 61200),)),
        ("Mon-Sun 00:00-24:00", set(range(7)), ((0, 86400),)),
        ("Mon-Fri 22:00-02:00", {0, 1, 2, 3, 4}, ((79200, 7200),)),
        ("Tue 9:05:30-9:06", {1}, ((32730, 32760),)),
    ],
)
def test_parses_days_and_ranges(text, days, ranges):
    (rule,) = SendWindow.parse(text).rules
    assert rule.days == frozenset(days)
    assert rule.ranges == ranges


def test_several_rules_are_separated_by_semicolons():
    window = SendWindow.parse(" Mon-Fri 09:00-17:00; Sat 10:00-12:00 ")
    assert [sorted(rule.days) for rule in window.rules] == [[0, 1, 2, 3, 4], [5]]
    assert str(window) == "Mon-Fri 09:00-17:00; Sat 10:00-12:00"
    assert window.is_open(utc(2026, 6, 6, 11), "UTC")  # a Saturday
    assert not window.is_open(utc(2026, 6, 6, 13), "UTC")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "expected a window"),
        (None, "expected a window"),
        ("Mon-Fri", "is not '<days> <HH:MM-HH:MM>'"),
        ("Funday 09:00-10:00", "'Funday' is not a day name"),
        ("Mon,,Fri 09:00-10:00", "'' is not a day name"),
        ("Mon-Fri 9-17", "'9' is not a time of day"),
        ("Mon-Fri 25:00-26:00", "'25:00' is not a time of day"),
        ("Mon 09:60-10:00", "'09:60' is not a time of day"),
        ("Mon 24:00-01:00", "'24:00' is not a time of day"),
        ("Mon 09:00-24:30", "'24:30' is not a time of day"),
        ("Mon 09:00", "'09:00' is not a range"),
        ("Mon-Fri 09:00-09:00", "starts and ends at the same time"),
        ("Mon-Fri 09:00-17:00 later", "is not '<days> <HH:MM-HH:MM>'"),
        ("Mon-Fri 09:00-17:00;", "is not '<days> <HH:MM-HH:MM>'"),
    ],
)
def test_a_bad_window_names_the_field_and_the_fix(text, words):
    with pytest.raises(ConnectSafelyValidationError) as info:
        SendWindow.parse(text)
    message = str(info.value)
    assert message.startswith("Invalid `send_window`: ") and words in message and ". Fix: " in message


def test_the_error_names_the_field_it_is_given():
    with pytest.raises(ConnectSafelyValidationError, match=r"Invalid `window`"):
        SendWindow.parse("soon", field="window")


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "  ", None, 5, "Europe/../../etc/passwd", "Europe"])
def test_a_bad_time_zone_names_the_field_and_the_fix(name):
    with pytest.raises(ConnectSafelyValidationError) as info:
        check_timezone(name, "recipients[3].timezone")
    message = str(info.value)
    assert (
        message.startswith("Invalid `recipients[3].timezone`: ") and "Fix: use a tz database name" in message
    )


def test_time_zone_names_are_the_tz_databases():
    assert check_timezone(" Europe/Berlin ") == "Europe/Berlin"
    assert check_timezone("UTC") == "UTC"
    assert zone_of("America/New_York").utcoffset(datetime(2026, 1, 15)) == timedelta(hours=-5)


# -- days, ranges and midnight (UTC: no DST) ----------------------------------------------

# 2026-06-01 is a Monday.


@pytest.mark.parametrize(
    ("at", "is_open", "next_open"),
    [
        (utc(2026, 6, 1, 8, 59), False, utc(2026, 6, 1, 9)),
        (utc(2026, 6, 1, 9), True, utc(2026, 6, 1, 9)),
        (utc(2026, 6, 1, 17, 29, 59), True, utc(2026, 6, 1, 17, 29, 59)),
        (utc(2026, 6, 1, 17, 30), False, utc(2026, 6, 2, 9)),
        (utc(2026, 6, 5, 18), False, utc(2026, 6, 8, 9)),  # Friday evening: Monday
        (utc(2026, 6, 6, 12), False, utc(2026, 6, 8, 9)),  # Saturday
    ],
)
def test_office_hours(at, is_open, next_open):
    window = SendWindow.parse("Mon-Fri 09:00-17:30")
    assert window.is_open(at, "UTC") is is_open
    assert window.next_open(at, "UTC") == next_open


def test_ranges_within_a_day():
    window = SendWindow.parse("Mon,Wed,Fri 09:00-12:00,14:00-17:30")
    assert not window.is_open(utc(2026, 6, 3, 13), "UTC")
    assert window.next_open(utc(2026, 6, 3, 13), "UTC") == utc(2026, 6, 3, 14)
    assert window.next_open(utc(2026, 6, 3, 18), "UTC") == utc(2026, 6, 5, 9)  # Thursday skipped


def test_days_wrap_past_sunday():
    window = SendWindow.parse("Fri-Mon 09:00-17:00")
    assert [window.is_open(utc(2026, 6, day, 10), "UTC") for day in range(1, 8)] == [
        True,  # Mon
        False,
        False,
        False,
        True,  # Fri
        True,
        True,  # Sun
    ]
    assert window.next_open(utc(2026, 6, 2, 10), "UTC") == utc(2026, 6, 5, 9)


def test_a_range_crossing_midnight_belongs_to_the_day_it_starts():
    window = SendWindow.parse("Mon-Fri 22:00-02:00")
    assert window.opening(utc(2026, 6, 1, 23), "UTC") == (utc(2026, 6, 1, 22), utc(2026, 6, 2, 2))
    assert window.is_open(utc(2026, 6, 2, 1, 59), "UTC")  # Tuesday night, from Monday
    assert not window.is_open(utc(2026, 6, 1, 1), "UTC")  # Monday 01:00 is Sunday's range
    assert window.is_open(utc(2026, 6, 6, 1), "UTC")  # Saturday 01:00 is Friday's range
    assert not window.is_open(utc(2026, 6, 6, 23), "UTC")
    assert window.next_open(utc(2026, 6, 6, 3), "UTC") == utc(2026, 6, 8, 22)


def test_24_00_ends_at_midnight_and_touching_ranges_are_one_opening():
    window = SendWindow.parse("Mon 18:00-24:00; Tue 00:00-03:00")
    assert window.opening(utc(2026, 6, 1, 23, 59), "UTC") == (utc(2026, 6, 1, 18), utc(2026, 6, 2, 3))
    assert window.is_open(utc(2026, 6, 2, 0), "UTC")


def test_the_local_clock_decides():
    window = SendWindow.parse("Mon-Fri 09:00-17:00")
    at = utc(2026, 6, 1, 23, 30)  # Monday 23:30 UTC is Tuesday 08:30 in Tokyo
    assert window.next_open(at, "Asia/Tokyo") == utc(2026, 6, 2, 0)  # 09:00 JST
    assert window.next_open(at, "America/Los_Angeles") == at  # Monday 16:30 PDT: open
    assert window.is_open(utc(2026, 6, 1, 23, 30), "Asia/Kolkata") is False  # 05:00 IST Tuesday
    assert window.is_open(utc(2026, 6, 2, 4), "Asia/Kolkata")  # 09:30 IST


def test_opening_reads_a_naive_moment_as_utc():
    # The outreach layer's entry point keeps taking naive times as UTC (as SQLite returns
    # them); the public is_open and next_open refuse them (tests/unit/test_windows.py).
    window = SendWindow.parse("Mon-Fri 09:00-17:30")
    assert window.opening(datetime(2026, 6, 6, 12), "UTC") == (utc(2026, 6, 8, 9), utc(2026, 6, 8, 17, 30))


# -- daylight saving time -----------------------------------------------------------------

# Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC); 2026-10-25 03:00 CEST ->
# 02:00 CET (01:00 UTC). America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC);
# 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC).


def test_a_start_in_the_skipped_hour_opens_when_the_clock_jumps():
    window = SendWindow.parse("Sun 02:30-04:00")
    assert window.opening(utc(2026, 3, 28, 12), "Europe/Berlin") == (utc(2026, 3, 29, 1), utc(2026, 3, 29, 2))
    assert not window.is_open(utc(2026, 3, 29, 0, 59, 59), "Europe/Berlin")
    assert window.is_open(utc(2026, 3, 29, 1), "Europe/Berlin")  # 03:00 CEST
    # A week later the same window is 02:30-04:00 CEST again: 90 minutes.
    assert window.opening(utc(2026, 4, 1), "Europe/Berlin") == (utc(2026, 4, 5, 0, 30), utc(2026, 4, 5, 2))


def test_an_end_in_the_skipped_hour_closes_when_the_clock_jumps():
    window = SendWindow.parse("Sun 01:30-02:30")
    assert window.opening(utc(2026, 3, 28, 12), "Europe/Berlin") == (
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1),
    )


def test_a_range_wholly_in_the_skipped_hour_is_closed_that_day():
    window = SendWindow.parse("Sun 02:10-02:50")
    assert window.next_open(utc(2026, 3, 28, 12), "Europe/Berlin") == utc(2026, 4, 5, 0, 10)


def test_office_hours_follow_the_clock_over_the_spring_change():
    window = SendWindow.parse("Mon-Sun 09:00-17:00")
    assert window.next_open(utc(2026, 3, 28, 20), "Europe/Berlin") == utc(2026, 3, 29, 7)  # 09:00 CEST
    assert window.next_open(utc(2026, 3, 27, 20), "Europe/Berlin") == utc(2026, 3, 28, 8)  # 09:00 CET


def test_a_night_range_over_the_spring_change_is_an_hour_shorter():
    window = SendWindow.parse("Sat 22:00-04:00")
    start, end = window.opening(utc(2026, 3, 28, 12), "Europe/Berlin")
    assert (start, end) == (utc(2026, 3, 28, 21), utc(2026, 3, 29, 2))
    assert end - start == timedelta(hours=5)


def test_a_start_in_the_repeated_hour_opens_on_the_first_pass_and_stays_open():
    window = SendWindow.parse("Sun 02:30-04:00")
    assert window.opening(utc(2026, 10, 24, 12), "Europe/Berlin") == (
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST
        utc(2026, 10, 25, 3),  # 04:00 CET
    )
    assert window.is_open(utc(2026, 10, 25, 1, 15), "Europe/Berlin")  # 02:15 CET, the second pass


def test_an_end_in_the_repeated_hour_closes_on_the_first_pass():
    window = SendWindow.parse("Sun 01:00-02:30")
    assert window.opening(utc(2026, 10, 24, 12), "Europe/Berlin") == (
        utc(2026, 10, 24, 23),  # 01:00 CEST
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST
    )
    assert not window.is_open(utc(2026, 10, 25, 1, 15), "Europe/Berlin")  # 02:15 CET: not again
    assert window.next_open(utc(2026, 10, 25, 1, 15), "Europe/Berlin") == utc(2026, 11, 1, 0)


def test_new_york_in_spring():
    window = SendWindow.parse("Sun 02:15-03:30")
    assert window.opening(utc(2026, 3, 7, 12), "America/New_York") == (
        utc(2026, 3, 8, 7),  # the jump to 03:00 EDT
        utc(2026, 3, 8, 7, 30),  # 03:30 EDT
    )


def test_new_york_in_autumn_an_end_the_clock_skips_on_its_first_pass():
    # The clock goes 01:59:59 EDT -> 01:00 EST: 02:00 is first shown at 02:00 EST.
    window = SendWindow.parse("Sun 01:30-02:00")
    assert window.opening(utc(2026, 10, 31, 12), "America/New_York") == (
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT
        utc(2026, 11, 1, 7),  # 02:00 EST
    )
    assert window.is_open(utc(2026, 11, 1, 6, 10), "America/New_York")  # 01:10 EST


def test_office_hours_in_new_york_around_both_changes():
    window = SendWindow.parse("Mon-Fri 09:00-17:30")
    assert window.next_open(utc(2026, 3, 6, 23), "America/New_York") == utc(2026, 3, 9, 13)  # EDT
    assert window.next_open(utc(2026, 10, 30, 23), "America/New_York") == utc(2026, 11, 2, 14)  # EST


def test_a_day_the_zone_skipped_has_no_range():
    # Samoa moved across the date line: 2011-12-29 23:59:59 was followed by 2011-12-31 00:00.
    window = SendWindow.parse("Fri 09:00-17:00")
    assert window.next_open(utc(2011, 12, 29, 0), "Pacific/Apia") == utc(
        2012, 1, 5, 19
    )  # Fri 6 Jan 09:00 +14


# -- properties: against a minute-by-minute walk of the local clock -----------------------

# Zones with a moment near which to start: their DST changes in 2026 (Lord Howe moves its
# clock by 30 minutes), and zones without DST.
CASES = [
    ("Europe/Berlin", utc(2026, 3, 29, 1)),
    ("Europe/Berlin", utc(2026, 10, 25, 1)),
    ("America/New_York", utc(2026, 3, 8, 7)),
    ("America/New_York", utc(2026, 11, 1, 6)),
    ("Australia/Lord_Howe", utc(2026, 4, 4, 15)),
    ("Australia/Lord_Howe", utc(2026, 10, 3, 15, 30)),
    ("UTC", utc(2026, 6, 15, 12)),
    ("Asia/Kolkata", utc(2026, 6, 15, 12)),
]
WALK_BEFORE = timedelta(days=2)
WALK_AFTER = timedelta(days=16)


# Most range ends fall in the small hours, where the clocks change (mostly at 02:00-03:00).
MINUTES = st.one_of(st.integers(0, 24 * 60 - 1), st.integers(0, 4 * 60), st.integers(2 * 60, 3 * 60))


@st.composite
def windows(draw) -> str:
    rules = []
    for _ in range(draw(st.integers(1, 2))):
        days = sorted(draw(st.sets(st.integers(0, 6), min_size=1)) | draw(st.sets(st.just(6))))
        ranges = []
        for _ in range(draw(st.integers(1, 2))):
            start = draw(MINUTES)
            end = draw(st.one_of(MINUTES, st.just(24 * 60)).filter(lambda end, start=start: end != start))
            ranges.append(f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}")
        rules.append(f"{','.join(DAY_NAMES[d].title() for d in days)} {','.join(ranges)}")
    return "; ".join(rules)


def walk(text: str, tz: str, at: datetime) -> tuple[datetime, bytearray]:
    """Whether the window is open at each minute around ``at``, found by reading the local
    clock every minute: a range is open from the first minute the clock reads its start (or
    later) on its day until the first minute it reads its end (or later)."""
    zone = zone_of(tz)
    first = at - WALK_BEFORE
    count = int((WALK_BEFORE + WALK_AFTER).total_seconds() // 60)
    readings = [(first + timedelta(minutes=i)).astimezone(zone).replace(tzinfo=None) for i in range(count)]
    highest = []  # the latest time the clock has shown so far: the order of "first reads"
    for reading in readings:
        highest.append(max(reading, highest[-1]) if highest else reading)
    is_open = bytearray(count)
    rules = SendWindow.parse(text).rules
    day = readings[0].date() - timedelta(days=1)
    while day <= readings[-1].date():
        for rule in rules:
            if day.weekday() not in rule.days:
                continue
            for start, end in rule.ranges:
                opens = datetime.combine(day, datetime.min.time()) + timedelta(seconds=start)
                closes = datetime.combine(day, datetime.min.time()) + timedelta(seconds=end)
                if end <= start:
                    closes += timedelta(days=1)
                a, b = bisect.bisect_left(highest, opens), bisect.bisect_left(highest, closes)
                is_open[a:b] = b"\x01" * (b - a)
        day += timedelta(days=1)
    return first, is_open


@settings(max_examples=50, deadline=None)
@given(
    text=windows(),
    case=st.sampled_from(CASES),
    minutes=st.integers(-5 * 24 * 60, 12 * 60),
)
def test_every_opening_matches_a_minute_by_minute_walk(text, case, minutes):
    """From ``at``, one opening after another for a week: closed on every minute before each
    opening, open on every minute of it, closed at its end; and next_open is its start."""
    tz, anchor = case
    window = SendWindow.parse(text)
    at = anchor + timedelta(minutes=minutes)
    first, is_open = walk(text, tz, at)

    def index(moment: datetime) -> int:
        return int((moment - first).total_seconds() // 60)

    assert window.is_open(at, tz) is bool(is_open[index(at)])
    moment = at
    while moment < at + timedelta(days=8):
        start, end = window.opening(moment, tz)
        assert window.next_open(moment, tz) == max(start, moment)
        here, opens, closes = index(moment), index(start), index(end)
        assert not any(is_open[here:opens]), (moment, start)
        assert all(is_open[max(here, opens) : min(closes, len(is_open))]), (start, end)
        if end >= at + timedelta(days=14):
            break  # an opening that lasts past the days opening() looks at ends there
        assert not is_open[closes], end
        moment = end


def test_the_walk_is_a_fair_oracle():
    """The oracle itself, on the Berlin spring change: 03:00-04:00 CEST, nothing before."""
    first, is_open = walk("Sun 02:30-04:00", "Europe/Berlin", utc(2026, 3, 29, 0))
    minutes = [first + timedelta(minutes=i) for i, flag in enumerate(is_open) if flag]
    assert minutes[0] == utc(2026, 3, 29, 1) and minutes[59] == utc(2026, 3, 29, 1, 59)
    assert minutes[60] == utc(2026, 4, 5, 0, 30)
    assert date(2026, 3, 29).weekday() == 6
