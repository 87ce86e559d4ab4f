"""Pacing requests from the API's rate-limit headers, so that a steady run never draws a 429.
No Airflow imports here.

The API documents about 60 requests a minute per key, and its answers carry
``X-RateLimit-Remaining`` (requests the current window still allows) and
``X-RateLimit-Reset`` (when the window ends: ISO 8601, or a Unix timestamp on an older page).
:class:`RequestPacer` reads both from every answer and, before the next request, waits when
the window has no room left.

**Policy: go while the window has room, then wait for its reset.** Requests go out at once
while ``Remaining`` is above ``reserve`` (0 by default); the request after the one that
brought it there waits until the reset, plus a small margin. A steady run therefore makes
exactly the window's allowance per window, and a run of ``n`` requests takes about
``(ceil(n / limit) - 1)`` windows plus the time of the last window's requests: what the limit
forces. Spreading the allowance evenly over the window would take as long for a long run and
would slow down every short one (a read of three pages would wait seconds for nothing).

**Which headers it follows.** The same header names also describe the daily message quota on
send answers (``Remaining``: messages left today, ``Reset``: the next 00:00 UTC) and the
weekly connection-request quota. A reset further away than ``horizon`` (120 s by default; the
request window is a minute) is such a quota, and is ignored here: the send ledger's caps and
deferral handle those, and a task must never sleep until tomorrow. A daily quota used up in
the last two minutes before midnight does look like a request window: the next request then
waits for midnight, as it would have to anyway.

**Bounded.** No wait is longer than ``max_wait`` (``MAX_RATE_LIMIT_WAIT``, 60 s, by default:
the longest 429 wait sat out in-process), and a 0 turns waiting off. A request that goes out
early and draws a 429 is handled by the retry policy as before (:mod:`.retry`).

**One window per key and process.** Pacers given the same ``key`` (the client passes a
fingerprint of its base URL and API key) share what they know of the window: the hooks of
several tasks run by one ``dag.test()``, or several clients in one task, pace together. A pacer
cannot see the requests of other processes on the same API key: they consume the same window,
which it learns of only from the next answer's ``Remaining``. Several workers on one key may
therefore still draw 429s; the retry policy waits those out, or the operators defer until the
reset.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.api.responses import parse_time
from airflow_provider_connectsafely.clock import utc_now

REMAINING = "X-RateLimit-Remaining"
RESET = "X-RateLimit-Reset"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateWindow:
    """What the answers said about the current request window.

    :param remaining: requests it still allows (after those already let through).
    :param resets_at: when it ends (UTC).
    """

    remaining: int
    resets_at: datetime


class _Shared:
    """What is known of one request window, and the lock that guards it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.window: RateWindow | None = None


_BY_KEY: dict[str, _Shared] = {}
_BY_KEY_LOCK = threading.Lock()


def _shared(key: str | None) -> _Shared:
    if key is None:
        return _Shared()
    with _BY_KEY_LOCK:
        return _BY_KEY.setdefault(key, _Shared())


class RequestPacer:
    """Waits before a request when the API's request window has no room left.

    Call :meth:`before_request` before each request and :meth:`observe` with the headers of
    each answer, whatever its status. Thread-safe.

    :param horizon: follow only windows whose reset, when seen, is at most this many seconds
        away; later resets are daily or weekly quotas, left to the caps and deferral.
    :param max_wait: longest wait before one request, in seconds; 0 never waits.
    :param reserve: requests of each window to leave unused, e.g. for a sensor polling with
        the same key; the pacer waits when ``Remaining`` is at or below it.
    :param margin: seconds to wait past the reset, for clocks that differ slightly.
    :param clock: the current time as an aware datetime (tests pass a fake).
    :param sleep: how to wait (tests pass a fake).
    :param key: pacers of this process with the same key share one window (see above); None:
        this pacer's own.
    """

    def __init__(
        self,
        *,
        horizon: float = defaults.RATE_WINDOW_HORIZON,
        max_wait: float = defaults.MAX_RATE_LIMIT_WAIT,
        reserve: int = 0,
        margin: float = defaults.PACING_MARGIN,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
        key: str | None = None,
    ) -> None:
        for name, value in (("horizon", horizon), ("max_wait", max_wait), ("margin", margin)):
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"RequestPacer: `{name}` must be a number of seconds >= 0, got {value!r}")
        if isinstance(reserve, bool) or not isinstance(reserve, int) or reserve < 0:
            raise ValueError(f"RequestPacer: `reserve` must be a whole number >= 0, got {reserve!r}")
        self.horizon = float(horizon)
        self.max_wait = float(max_wait)
        self.reserve = reserve
        self.margin = float(margin)
        self._clock = clock or utc_now
        self._sleep = sleep or time.sleep
        self._shared = _shared(key)

    @classmethod
    def off(cls) -> RequestPacer:
        """A pacer that never waits."""
        return cls(max_wait=0.0)

    def __repr__(self) -> str:
        return f"RequestPacer(max_wait={self.max_wait:g}, reserve={self.reserve})"

    @property
    def window(self) -> RateWindow | None:
        """The window being paced, or None when nothing is known about one."""
        with self._shared.lock:
            return self._shared.window

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take in an answer's ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``.

        :param headers: the answer's headers (``requests`` gives a case-insensitive mapping).
        """
        remaining = _count(headers.get(REMAINING))
        if remaining is None:
            return
        now = self._clock()
        resets_at = parse_time(headers.get(RESET), now)
        if resets_at is None:
            return
        ahead = (resets_at - now).total_seconds()
        if ahead > self.horizon:
            return  # a daily or weekly quota: not a request window
        with self._shared.lock:
            self._shared.window = RateWindow(remaining, resets_at) if ahead > 0 else None

    def before_request(self) -> float:
        """Wait, if the window has no room left, until it resets (at most ``max_wait``).

        :returns: the seconds waited.
        """
        if self.max_wait <= 0:
            return 0.0
        shared = self._shared
        with shared.lock:
            window = shared.window
            if window is None:
                return 0.0
            now = self._clock()
            if now >= window.resets_at:
                shared.window = None
                return 0.0
            if window.remaining > self.reserve:
                # Counted here too: an answer of another thread, or one without the headers,
                # may come later or never.
                shared.window = RateWindow(window.remaining - 1, window.resets_at)
                return 0.0
            wait = min((window.resets_at - now).total_seconds() + self.margin, self.max_wait)
            log.info(
                "API request rate: %d request(s) left in this window; waiting %.1f s for it to reset at %s",
                window.remaining,
                wait,
                window.resets_at.isoformat(timespec="milliseconds"),
            )
            # Asleep with the lock held: the key's other pacers wait for the same reset.
            self._sleep(wait)
            shared.window = None
            return wait


def _count(value: object) -> int | None:
    """A header's count as a whole number >= 0, or None when it is absent or not a number."""
    if value is None:
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return max(0, int(number))
