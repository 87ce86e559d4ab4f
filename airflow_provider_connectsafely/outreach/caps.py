"""Daily caps per LinkedIn account (no Airflow imports here).

The cap counts the ledger's sends in the current window: a UTC day. For tests only, the
environment variable :data:`TESTING_CAP_WINDOW_ENV` shortens the window to a few seconds
(see ``docs/testing.md`` and the ``connectsafely_short_cap_window`` pytest fixture).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone

log = logging.getLogger(__name__)

#: TESTING ONLY: when set to a whole number of seconds N > 0, the cap's window is N seconds
#: aligned to the Unix epoch instead of a UTC day. Never set it in a deployment.
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
    raw = os.environ.get(TESTING_CAP_WINDOW_ENV)
    if raw:
        seconds = testing_window_seconds(raw)
        start_ts = int(utc.timestamp() // seconds) * seconds
        start = datetime.fromtimestamp(start_ts, timezone.utc)
        return start, start + timedelta(seconds=seconds)
    start = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


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
            "%s=%s is set: the daily cap's window is %d seconds instead of a UTC day. "
            "This is for tests only; unset it in a deployment.",
            TESTING_CAP_WINDOW_ENV,
            raw,
            seconds,
        )
    return seconds
