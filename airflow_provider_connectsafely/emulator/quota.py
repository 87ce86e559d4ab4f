"""A usage limit at one moment (daily messages, weekly connection requests) and its headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .clock import iso_z


@dataclass(frozen=True)
class Quota:
    """A limit of one account at one moment.

    :param allowed: whether one more action may be taken.
    :param limit: actions per period.
    :param used: actions taken this period (including the one just counted, if any).
    :param resets_at: when the period ends (next 00:00 UTC for messages, next Monday 00:00 UTC
        for connection requests).
    """

    allowed: bool
    limit: int
    used: int
    resets_at: datetime

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers describing this quota."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Used": str(self.used),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": iso_z(self.resets_at),
        }
