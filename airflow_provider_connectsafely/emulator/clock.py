"""UTC time helpers: the emulator's notion of "now", ISO 8601 stamps, the daily and weekly resets,
and :class:`ManualClock`, a clock tests set by hand instead of sleeping."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def iso_z(moment: datetime, *, millis: bool = False) -> str:
    """Format ``moment`` as ISO 8601 with a ``Z`` suffix, e.g. ``2026-11-27T00:00:00Z``."""
    text = as_utc(moment).isoformat(timespec="milliseconds" if millis else "seconds")
    return text.replace("+00:00", "Z")


def parse_iso(text: object) -> datetime:
    """Parse an ISO 8601 time (``Z`` or an offset; naive means UTC) into an aware UTC datetime.

    :raises ValueError: ``text`` is not a string holding an ISO 8601 date-time.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("expected an ISO 8601 date-time string")
    try:
        text = text.strip()
        # Python 3.10's fromisoformat refuses a trailing Z (3.11 accepts it).
        return as_utc(datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text))
    except ValueError:
        raise ValueError(f"not an ISO 8601 date-time: {text!r}") from None


def next_utc_midnight(moment: datetime) -> datetime:
    """Return the 00:00 UTC that follows ``moment`` (when the daily quota resets)."""
    day = as_utc(moment).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def week_start(moment: datetime) -> datetime:
    """Return the Monday 00:00 UTC that starts the week of ``moment``."""
    day = as_utc(moment).date()
    monday = day - timedelta(days=day.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=timezone.utc)


def next_utc_monday(moment: datetime) -> datetime:
    """Return the Monday 00:00 UTC that follows ``moment`` (when the weekly limit resets)."""
    return week_start(moment) + timedelta(days=7)


class ManualClock:
    """A clock that stands still until told otherwise; pass it as ``EmulatorServer(clock=...)``.

    :param start: the initial time (naive means UTC).
    """

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> datetime:
        """Jump to ``moment`` (backwards too) and return it."""
        with self._lock:
            self._now = as_utc(moment)
            return self._now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move forward by ``seconds`` plus any :class:`~datetime.timedelta` keywords; return the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now
