"""The one clock that the ledger, the caps and the outreach layer read (no Airflow imports).

Every timestamp the provider writes or compares comes from a ``Clock``: a function with no
arguments that returns an aware UTC ``datetime``. Tests pass their own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, in UTC: the default ``Clock``."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive value (as SQLite returns them) is taken to be UTC already."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
