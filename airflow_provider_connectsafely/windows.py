"""Sending windows from Python: is a window open now for this person, and when does it open next.

No Airflow imports here, and nothing heavy: pendulum is imported on first use.

>>> from datetime import datetime, timezone
>>> from airflow_provider_connectsafely.windows import SendWindow
>>> window = SendWindow.parse("Mon-Fri 09:00-17:30")  # the operators' ``send_window`` syntax
>>> saturday = datetime(2026, 6, 6, 12, 0, tzinfo=timezone.utc)
>>> window.is_open(saturday, "Europe/Berlin")
False
>>> window.next_open(saturday, "Europe/Berlin")  # Monday 09:00 CEST, in UTC
datetime.datetime(2026, 6, 8, 7, 0, tzinfo=datetime.timezone.utc)

``is_open`` and ``next_open`` take an aware datetime (any UTC offset) and an IANA time zone
name; a naive datetime or an unknown zone raises a ``ValueError`` that names the argument
and the fix. :class:`SendWindow` is the class the operators use, so the answers are theirs.
The syntax and the rules for midnight and daylight saving time are in ``docs/send-windows.md``.
"""

from __future__ import annotations

from airflow_provider_connectsafely.outreach.windows import SendWindow

__all__ = ["SendWindow"]
