"""In-process retry policy: small handlers, each answering one question.

A handler looks at one failed attempt and returns how long to wait before the next one,
or None when that failure is not its business. The policy asks its handlers in order and
hands the answer to tenacity, which runs the loop. No handler ever retries a
:class:`~airflow_provider_connectsafely.errors.DeliveryUnknownError`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from airflow_provider_connectsafely import defaults, errors


class RetryHandler(Protocol):
    def delay(self, error: BaseException, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``attempt`` failed with ``error``, or None."""


@dataclass(frozen=True)
class ConnectFailureHandler:
    """Retries when the connection could not be opened: nothing was sent.

    :param base: first back-off in seconds, doubled per attempt, with full jitter.
    :param cap: longest back-off in seconds.
    """

    base: float = 0.5
    cap: float = 8.0

    def delay(self, error: BaseException, attempt: int) -> float | None:
        if not isinstance(error, errors.ConnectionFailedError):
            return None
        return random.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class ReadFailureHandler:
    """Retries a read (``GET``) that got no usable answer: reads change nothing.

    :param base: first back-off in seconds, doubled per attempt, with full jitter.
    :param cap: longest back-off in seconds.
    """

    base: float = 0.5
    cap: float = 8.0

    def delay(self, error: BaseException, attempt: int) -> float | None:
        if not isinstance(error, errors.ReadFailedError):
            return None
        return random.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class RateLimitHandler:
    """Waits out a 429 in-process only when the reset is near.

    :param max_wait: longest wait in seconds worth holding the caller for; a later reset
        is raised as a :class:`~airflow_provider_connectsafely.errors.RateLimitError`.
    :param default_wait: wait used when the 429 names no reset time.
    """

    max_wait: float = defaults.MAX_RATE_LIMIT_WAIT
    default_wait: float = 5.0

    def delay(self, error: BaseException, attempt: int) -> float | None:
        if not isinstance(error, errors.RateLimitError):
            return None
        wait = self.default_wait if error.retry_after is None else error.retry_after
        return wait if wait <= self.max_wait else None


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are retried in-process, how often, and after how long.

    :param max_attempts: attempts in all, the first included.
    :param handlers: asked in order; the first that answers decides.
    """

    max_attempts: int = 4
    handlers: Sequence[RetryHandler] = field(
        default_factory=lambda: (ConnectFailureHandler(), RateLimitHandler(), ReadFailureHandler())
    )

    @classmethod
    def default(cls, max_rate_limit_wait: float = defaults.MAX_RATE_LIMIT_WAIT) -> RetryPolicy:
        return cls(
            handlers=(
                ConnectFailureHandler(),
                RateLimitHandler(max_wait=max_rate_limit_wait),
                ReadFailureHandler(),
            )
        )

    @classmethod
    def never(cls) -> RetryPolicy:
        return cls(max_attempts=1, handlers=())

    @property
    def max_rate_limit_wait(self) -> float:
        """The longest 429 wait this policy sits out in-process; 0 when it retries no 429."""
        if self.max_attempts <= 1:
            return 0.0
        return max((h.max_wait for h in self.handlers if isinstance(h, RateLimitHandler)), default=0.0)

    def delay(self, error: BaseException, attempt: int) -> float | None:
        if isinstance(error, errors.DeliveryUnknownError) or attempt >= self.max_attempts:
            return None
        for handler in self.handlers:
            wait = handler.delay(error, attempt)
            if wait is not None:
                return wait
        return None
