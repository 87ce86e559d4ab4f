"""The windows of the caps per LinkedIn account (no Airflow imports here).

A cap counts the ledger's sends in its current window: a UTC day for messages, a week from
Monday 00:00 UTC for connection requests. For tests only, the environment variable
:data:`TESTING_CAP_WINDOW_ENV` shortens both windows to a few seconds (see ``docs/testing.md``
and the ``connectsafely_short_cap_window`` pytest fixture).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone

log = logging.getLogger(__name__)

#: TESTING ONLY: when set to a whole number of seconds N > 0, the caps' windows are N seconds
#: aligned to the Unix epoch instead of a UTC day (or week). Never set it in a deployment.
TESTING_CAP_WINDOW_ENV = "CONNECTSAFELY_TESTING_CAP_WINDOW_SECONDS"
_warned: set[str] = set()


def window(now: datetime) -> tuple[datetime, datetime]:
    """The cap's current window: from 00:00 UTC today to 00:00 UTC tomorrow.

    With ``CONNECTSAFELY_TESTING_CAP_WINDOW_SECONDS=N`` (testing only) it is the N-second
    window aligned to the Unix epoch that holds ``now``.

    :param now: the current time; an aware datetime (a naive one is read as local time).
    :returns: the window's start and end, both in UTC; ``start <= now < end``.
    :raises ValueError: the testing variable is set but not a whole number above 0.
    """
    utc = now.astimezone(timezone.utc)
    short = _testing_window(utc)
    if short is not None:
        return short
    start = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def weekly_window(now: datetime) -> tuple[datetime, datetime]:
    """The weekly cap's current window (connection requests): from Monday 00:00 UTC to the
    next Monday 00:00 UTC, as ConnectSafely resets its weekly limit.

    With ``CONNECTSAFELY_TESTING_CAP_WINDOW_SECONDS=N`` (testing only) it is the same N-second
    window as :func:`window`.

    :param now: the current time; an aware datetime (a naive one is read as local time).
    :returns: the window's start and end, both in UTC; ``start <= now < end``.
    :raises ValueError: the testing variable is set but not a whole number above 0.
    """
    utc = now.astimezone(timezone.utc)
    short = _testing_window(utc)
    if short is not None:
        return short
    start = utc.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=utc.weekday())
    return start, start + timedelta(days=7)


def _testing_window(utc: datetime) -> tuple[datetime, datetime] | None:
    """The testing-only short window holding ``utc``, or None when the variable is unset."""
    raw = os.environ.get(TESTING_CAP_WINDOW_ENV)
    if not raw:
        return None
    seconds = testing_window_seconds(raw)
    start_ts = int(utc.timestamp() // seconds) * seconds
    start = datetime.fromtimestamp(start_ts, timezone.utc)
    return start, start + timedelta(seconds=seconds)


def testing_window_seconds(raw: str) -> int:
    """Parse the testing variable's value, warning once per value that it is active.

    :param raw: the value of ``CONNECTSAFELY_TESTING_CAP_WINDOW_SECONDS``.
    :returns: the window's length in seconds.
    :raises ValueError: not a whole number above 0.
    """
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise ValueError(
            f"{TESTING_CAP_WINDOW_ENV} must be a whole number of seconds above 0, got {raw!r}. "
            "It is for tests only: unset it outside tests"
        )
    if raw not in _warned:
        _warned.add(raw)
        log.warning(
            "%s=%s is set: the caps' windows are %d seconds instead of a UTC day (or week). "
            "This is for tests only; unset it in a deployment.",
            TESTING_CAP_WINDOW_ENV,
            raw,
            seconds,
        )
    return seconds
