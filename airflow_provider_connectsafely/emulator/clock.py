"""UTC time helpers: the emulator's notion of "now", ISO 8601 stamps, the daily reset."""

from __future__ import annotations

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


def next_utc_midnight(moment: datetime) -> datetime:
    """Return the 00:00 UTC that follows ``moment`` (when the daily quota resets)."""
    day = as_utc(moment).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
