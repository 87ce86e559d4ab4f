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


def from_iso(text: str) -> datetime:
    """An ISO 8601 date or time, ``Z`` accepted for UTC on every Python 3.10+ (3.10's
    ``fromisoformat`` refuses it); naive when the text has no offset.

    :raises ValueError: not ISO 8601.
    """
    text = text.strip()
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)


def parse_utc(value: datetime | str) -> datetime:
    """An aware UTC datetime from a datetime or an ISO 8601 string (a naive value is UTC).

    :raises ValueError: a string that is not ISO 8601.
    """
    return as_utc(from_iso(value) if isinstance(value, str) else value)
