"""Sending windows: the hours of the week, on a recipient's local clock, when messages may go out.

No Airflow imports here. pendulum (which Airflow depends on) provides the time-zone database
and is imported inside the functions, so importing this module costs nothing.

A window is one rule or several separated by ``;``, each ``<days> <ranges>``:

- days: ``Mon-Fri``, ``Mon,Wed,Fri``, ``Sat-Sun``, ``Fri-Mon`` (wraps past Sunday),
  ``Mon-Wed,Fri``; three-letter or full English names, any case. Without days: every day.
- ranges: ``HH:MM-HH:MM`` (``HH:MM:SS`` too), several separated by commas. ``24:00`` ends at
  midnight; an end earlier than the start crosses midnight.

How the clock is read:

- The days name the day a range *starts*: ``Mon-Fri 22:00-02:00`` is open from Monday 22:00
  to Tuesday 02:00, ..., from Friday 22:00 to Saturday 02:00, and not on Monday 00:00-02:00.
- A range opens at the first moment of its day when the local clock shows its start time or
  later, and closes at the first moment the clock shows its end time or later. A start in
  the hour skipped in spring (02:30 in Europe/Berlin on the last Sunday of March) therefore
  opens when the clock jumps to 03:00; in the hour repeated in autumn the first pass counts,
  so a range opens and closes once a day with no gap in between.

:class:`SendWindow` is public: ``airflow_provider_connectsafely.windows`` exports it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from datetime import time as clock_time
from datetime import timezone as dt_timezone

from airflow_provider_connectsafely.clock import as_utc
from airflow_provider_connectsafely.errors import ConnectSafelyValidationError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WINDOW_FIX = (
    "write days then time ranges, e.g. 'Mon-Fri 09:00-17:30', 'Mon,Wed 08:00-12:00,13:00-17:00' "
    "or 'Mon-Fri 09:00-17:00; Sat 10:00-12:00'"
)
TIMEZONE_FIX = "use a tz database name such as 'Europe/Berlin', 'America/New_York' or 'UTC'"
AWARE_FIX = "pass an aware datetime, e.g. datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)"
#: A range starts at most one day before the date of the instant it holds; within two weeks a
#: rule's next range always opens (a DST jump can empty one day's range, not the next week's).
SEARCH_DAYS = 16

_RULE = re.compile(r"^(?:(?P<days>[A-Za-z][A-Za-z,\-\s]*?)\s+)?(?P<ranges>\d[\d:,\-\s]*)$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_DAY = 86400


@dataclass(frozen=True)
class WindowRule:
    """Days and the time ranges open on them.

    :param days: weekdays a range may start on (0 is Monday).
    :param ranges: ``(start, end)`` in seconds after midnight; an end at or before the start
        is on the next day (``24:00`` is 86400).
    """

    days: frozenset[int]
    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class SendWindow:
    """A parsed sending window, e.g. ``SendWindow.parse("Mon-Fri 09:00-17:30")``; see the
    module's description for the syntax and the rules.

    :param text: the window as written.
    :param rules: the parsed rules.
    """

    text: str
    rules: tuple[WindowRule, ...]

    @classmethod
    def parse(cls, text: object, field: str = "send_window") -> SendWindow:
        """Parse ``text``, e.g. ``"Mon-Fri 09:00-17:30"``.

        :param text: the window.
        :param field: the parameter named in the error.
        :raises ConnectSafelyValidationError: the text is not a window (names ``field``).
        """
        if not isinstance(text, str) or not text.strip():
            raise ConnectSafelyValidationError(field, f"expected a window, got {text!r}", WINDOW_FIX)
        rules = []
        for part in text.split(";"):
            match = _RULE.match(part.strip())
            if match is None:
                problem = f"{part.strip()!r} is not '<days> <HH:MM-HH:MM>'"
                raise ConnectSafelyValidationError(field, problem, WINDOW_FIX)
            days = _parse_days(match["days"], field) if match["days"] else frozenset(range(7))
            ranges = tuple(_parse_range(r, field) for r in re.sub(r"\s+", "", match["ranges"]).split(","))
            rules.append(WindowRule(days, ranges))
        return cls(text.strip(), tuple(rules))

    def is_open(self, at: datetime, zone: str) -> bool:
        """Whether the window is open at ``at`` on the clock of ``zone``.

        :param at: an aware datetime, at any UTC offset.
        :param zone: the IANA time zone the window is read in, e.g. ``"Europe/Berlin"``.
        :raises ConnectSafelyValidationError: (a ``ValueError``) ``at`` is naive or not a
            datetime, or ``zone`` is not a time zone name; names the argument and the fix.
        """
        return self.next_open(at, zone) == as_utc(at)

    def next_open(self, at: datetime, zone: str) -> datetime:
        """When the window is next open on the clock of ``zone``: ``at`` itself (in UTC)
        while it is open, else the moment it opens (UTC).

        :param at: an aware datetime, at any UTC offset.
        :param zone: the IANA time zone the window is read in, e.g. ``"Europe/Berlin"``.
        :raises ConnectSafelyValidationError: (a ``ValueError``) ``at`` is naive or not a
            datetime, or ``zone`` is not a time zone name; names the argument and the fix.
        """
        at = aware(at)
        start, _end = self.opening(at, check_timezone(zone, "zone"))
        return max(start, as_utc(at))

    def opening(self, at: datetime, tz: str) -> tuple[datetime, datetime]:
        """The opening that holds ``at``, else the next one, as ``(start, end)`` in UTC.

        Ranges that touch or overlap count as one opening. Ranges are looked at from the
        day before ``at`` for :data:`SEARCH_DAYS` days: an opening that runs beyond them (an
        always-open window) is cut at their ends.

        :param at: an aware datetime (a naive one is taken as UTC).
        :param tz: the IANA name of the clock the window is read on.
        :raises ConnectSafelyValidationError: ``tz`` is not a time zone name.
        """
        import pendulum

        zone = zone_of(tz)
        at = as_utc(at)
        today = pendulum.instance(at).in_timezone(tz.strip()).date()
        spans = sorted(
            span
            for offset in range(-1, SEARCH_DAYS)
            for span in self._spans(zone, today + timedelta(days=offset))
            if span[0] < span[1]
        )
        merged: list[tuple[datetime, datetime]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        for start, end in merged:
            if end > at:
                return start, end
        raise ValueError(f"send window {self.text!r} never opens in {tz} after {at.isoformat()}")

    def _spans(self, zone: tzinfo, day: date) -> list[tuple[datetime, datetime]]:
        found = []
        for rule in self.rules:
            if day.weekday() not in rule.days:
                continue
            for start, end in rule.ranges:
                end_day = day + timedelta(days=end // _DAY) if end > start else day + timedelta(days=1)
                found.append((first_reading(zone, day, start), first_reading(zone, end_day, end % _DAY)))
        return found

    def __str__(self) -> str:
        return self.text


def first_reading(zone: tzinfo, day: date, seconds: int) -> datetime:
    """The first moment (UTC) the clock of ``zone`` shows ``day`` at ``seconds`` after
    midnight or later: the first pass through a repeated hour, the jump over a skipped one."""
    local = datetime.combine(day, clock_time()) + timedelta(seconds=seconds)
    after_jump = local.replace(tzinfo=zone, fold=0).astimezone(dt_timezone.utc)
    if _reading(after_jump, zone) == local:
        return after_jump  # the time exists; fold=0 is its first pass
    # Skipped by a jump. Neither zoneinfo nor pendulum lists a zone's transitions (pendulum
    # moves a skipped time on by the jump's length, 02:30 -> 03:30), so bisect for the jump
    # between the two readings of ``local``, to the second.
    before_jump = local.replace(tzinfo=zone, fold=1).astimezone(dt_timezone.utc)
    while after_jump - before_jump > timedelta(seconds=1):
        middle = before_jump + timedelta(seconds=(after_jump - before_jump).total_seconds() // 2)
        if _reading(middle, zone) >= local:
            after_jump = middle
        else:
            before_jump = middle
    return after_jump


def _reading(at: datetime, zone: tzinfo) -> datetime:
    return at.astimezone(zone).replace(tzinfo=None)


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> tzinfo:
    import pendulum

    return pendulum.timezone(name)


def zone_of(name: object, field: str = "timezone") -> tzinfo:
    """The time zone called ``name`` in the tz database (``Europe/Berlin``, ``UTC``).

    :raises ConnectSafelyValidationError: not a time zone name (names ``field``).
    """
    if not isinstance(name, str) or not name.strip():
        raise ConnectSafelyValidationError(
            field, f"expected an IANA time zone name, got {name!r}", TIMEZONE_FIX
        )
    try:
        return _zone(name.strip())
    except (ValueError, KeyError, OSError) as exc:  # pendulum's InvalidTimezone is a ValueError
        raise ConnectSafelyValidationError(
            field, f"{name!r} is not an IANA time zone name", TIMEZONE_FIX
        ) from exc


def check_timezone(name: object, field: str = "timezone") -> str:
    """``name`` stripped, once it is known to name a time zone.

    :raises ConnectSafelyValidationError: not a time zone name (names ``field``).
    """
    zone_of(name, field)
    assert isinstance(name, str)
    return name.strip()


def aware(at: object, field: str = "at") -> datetime:
    """``at``, once it is known to be an aware datetime.

    :raises ConnectSafelyValidationError: naive, or not a datetime (names ``field``).
    """
    if not isinstance(at, datetime):
        raise ConnectSafelyValidationError(field, f"expected a datetime, got {at!r}", AWARE_FIX)
    if at.utcoffset() is None:
        raise ConnectSafelyValidationError(field, f"{at.isoformat()} has no time zone", AWARE_FIX)
    return at


def _parse_days(text: str, field: str) -> frozenset[int]:
    days: set[int] = set()
    for part in re.sub(r"\s+", "", text).split(","):
        first, _, last = part.partition("-")
        start = _day(first, field)
        end = _day(last, field) if last else start
        days.update((start + n) % 7 for n in range((end - start) % 7 + 1))
    return frozenset(days)


def _day(name: str, field: str) -> int:
    lowered = name.lower()
    for names in (DAY_NAMES, FULL_DAY_NAMES):
        if lowered in names:
            return names.index(lowered)
    raise ConnectSafelyValidationError(field, f"{name!r} is not a day name (Mon, Tue, ... Sun)", WINDOW_FIX)


def _parse_range(text: str, field: str) -> tuple[int, int]:
    start_text, dash, end_text = text.partition("-")
    if not dash:
        raise ConnectSafelyValidationError(field, f"{text!r} is not a range HH:MM-HH:MM", WINDOW_FIX)
    start, end = _seconds(start_text, field, allow_24=False), _seconds(end_text, field, allow_24=True)
    if start == end:
        raise ConnectSafelyValidationError(
            field, f"{text!r} starts and ends at the same time", "for a whole day write 00:00-24:00"
        )
    return start, end


def _seconds(text: str, field: str, *, allow_24: bool) -> int:
    match = _TIME.match(text)
    hours, minutes, seconds = (int(g or 0) for g in match.groups()) if match else (99, 0, 0)
    value = hours * 3600 + minutes * 60 + seconds
    if minutes < 60 and seconds < 60 and (hours < 24 or (allow_24 and value == _DAY)):
        return value
    raise ConnectSafelyValidationError(
        field, f"{text!r} is not a time of day HH:MM (00:00 to 23:59, or 24:00 as an end)", WINDOW_FIX
    )
