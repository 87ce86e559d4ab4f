"""The per-key request rate: at most ``limit`` requests per window of ``window`` seconds.

Off unless configured (``EmulatorServer(rate_limit=20, rate_window=2)``, ``--rate-limit 20
--rate-window 2``). When on:

- Every authorized ``/linkedin/*`` request counts, whatever the endpoint or its outcome. A
  window opens with the first request after the previous one ended (a fixed window, not one
  aligned to the clock) and lasts ``window`` seconds.
- Every answer to such a request carries ``X-RateLimit-Limit``, ``X-RateLimit-Used``,
  ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` of the request window. On send and
  connect answers they replace the daily or weekly quota's headers (the request rate wins;
  the quotas stay readable in ``GET /linkedin/account/status`` and in their own 429's
  ``holdUntil``). Answers made by a fault keep only the fault's own headers.
- A request over the limit is refused before anything else happens (no fault is used up,
  nothing is delivered): 429 ``{"success": false, "error": "Rate limit exceeded: ... Resets
  at ...", "holdUntil": ...}`` with the window's headers and ``Retry-After`` (whole seconds,
  rounded up). It does not count against the window.
- ``X-RateLimit-Reset`` is ISO 8601 with milliseconds (``reset_format="iso"``, as the current
  docs say) or Unix seconds (``"unix"``, as an older page says); both are rounded up, so a
  client that waits until the reset is never early. ``holdUntil`` is always ISO 8601.

The emulator has one API key, so it keeps one window.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .clock import iso_z
from .replies import Reply, json_reply

RESET_FORMATS = ("iso", "unix")
#: The documented window, used when only a limit is given.
DEFAULT_WINDOW = 60.0


@dataclass(frozen=True)
class Admission:
    """The request window as one request found it.

    :param allowed: whether the request was admitted (and counted).
    :param limit: requests per window.
    :param used: requests counted in this window, this one included when admitted.
    :param resets_at: when the window ends.
    :param reset_format: ``iso`` or ``unix``, for ``X-RateLimit-Reset``.
    :param window: the window's length in seconds (for the 429's message).
    """

    allowed: bool
    limit: int
    used: int
    resets_at: datetime
    reset_format: str
    window: float

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers of the request window."""
        reset = _unix(self.resets_at) if self.reset_format == "unix" else _iso(self.resets_at)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Used": str(self.used),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": reset,
        }

    def refusal(self, now: datetime) -> Reply:
        """The 429 for a request over the limit."""
        hold = _iso(self.resets_at)
        error = f"Rate limit exceeded: {self.limit} requests per {self.window:g} s. Resets at {hold}"
        retry_after = max(1, math.ceil((self.resets_at - now).total_seconds()))
        headers = {**self.headers(), "Retry-After": str(retry_after)}
        return json_reply(429, {"success": False, "error": error, "holdUntil": hold}, headers)


class RequestRate:
    """The request window of the emulator's API key. Thread-safe.

    :param limit: requests per window (at least 1).
    :param window: the window's length in seconds (above 0).
    :param reset_format: ``iso`` or ``unix``.
    """

    def __init__(self, limit: int, window: float = DEFAULT_WINDOW, reset_format: str = "iso") -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"rate_limit must be a whole number >= 1, got {limit!r}")
        if isinstance(window, bool) or not isinstance(window, int | float) or not 0 < window < math.inf:
            raise ValueError(f"rate_window must be a number of seconds > 0, got {window!r}")
        if reset_format not in RESET_FORMATS:
            raise ValueError(f"rate_reset_format must be one of {', '.join(RESET_FORMATS)}")
        self.limit = limit
        self.window = float(window)
        self.reset_format = reset_format
        self._lock = threading.Lock()
        self._ends: datetime | None = None
        self._used = 0
        self._refused = 0

    def admit(self, now: datetime) -> Admission:
        """Count one request if the window has room; open a new window if the last one ended."""
        with self._lock:
            if self._ends is None or now >= self._ends:
                self._ends = now + timedelta(seconds=self.window)
                self._used = 0
            allowed = self._used < self.limit
            if allowed:
                self._used += 1
            else:
                self._refused += 1
            return Admission(allowed, self.limit, self._used, self._ends, self.reset_format, self.window)

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """The JSON of ``GET /_emulator/rate-limit``."""
        with self._lock:
            open_window = self._ends is not None and now < self._ends
            used = self._used if open_window else 0
            return {
                "enabled": True,
                "limit": self.limit,
                "windowSeconds": self.window,
                "used": used,
                "remaining": self.limit - used,
                "resetsAt": _iso(self._ends) if open_window and self._ends else None,
                "refused": self._refused,
            }

    def clear(self) -> None:
        """Forget the window and the count of refused requests."""
        with self._lock:
            self._ends = None
            self._used = 0
            self._refused = 0


#: ``GET /_emulator/rate-limit`` when no request rate is configured.
DISABLED = {"enabled": False, "refused": 0}


def _iso(moment: datetime) -> str:
    """ISO 8601 with milliseconds, rounded up to the next millisecond."""
    micros = moment.microsecond % 1000
    if micros:
        moment += timedelta(microseconds=1000 - micros)
    return iso_z(moment, millis=True)


def _unix(moment: datetime) -> str:
    """Unix seconds, rounded up."""
    return str(math.ceil((moment - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds()))
