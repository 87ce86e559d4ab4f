"""Daily caps per LinkedIn account (no Airflow imports here)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def window(now: datetime) -> tuple[datetime, datetime]:
    """The cap's current window: from 00:00 UTC today to 00:00 UTC tomorrow."""
    start = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)
