"""Sending windows built around a moment, so a test knows whether one is open at any time
of day, on any date (``Mon-Sun`` ranges may cross midnight)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


def clock_range(tz: str, opens_in: timedelta, length: timedelta, at: datetime | None = None) -> str:
    """``HH:MM:SS-HH:MM:SS`` on the clock of ``tz`` (pick one without DST): a range that
    opens ``opens_in`` after ``at`` (now by default; negative: already open) for ``length``."""
    start = ((at or datetime.now(timezone.utc)) + opens_in).astimezone(ZoneInfo(tz))
    end = start + length
    return f"{start:%H:%M:%S}-{end:%H:%M:%S}"


def every_day(*ranges: str) -> str:
    """A window of these ranges on every day of the week."""
    return f"Mon-Sun {','.join(ranges)}"
