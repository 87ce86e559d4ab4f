"""What the reply triggers share: running the hook's blocking calls off the event loop, and
deciding what to do after a failed poll. No Airflow imports at module level.

Polls only read, so any failure that may pass (429, 5xx, a dropped connection, a read
timeout) is waited out and polled again; failures that will not pass by themselves (a bad
key, no permission, an unknown conversation, a bad request) end the wait with an error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_connectsafely.clock import parse_utc

if TYPE_CHECKING:
    from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook

T = TypeVar("T")

#: Wait after a 429 that names no reset time, in seconds (at least the poke interval).
RATE_LIMIT_DEFAULT_WAIT = 5.0


def read_hook(conn_id: str) -> ConnectSafelyHook:
    """A hook for polling: a 429 is raised at once (the trigger waits it out asleep, not in
    a thread blocked inside the client)."""
    from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook

    return ConnectSafelyHook(conn_id, max_rate_limit_wait=0)


async def in_thread(call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a blocking call in a worker thread: the reply triggers' polls, and the notifier's
    ``async_notify``.

    ``asgiref``'s ``sync_to_async`` rather than ``asyncio.to_thread``: in Airflow 3.1's
    triggerer a connection lookup made from the thread must find its way back to the
    triggerer's event loop, which only works from a ``sync_to_async`` thread.
    """
    from asgiref.sync import sync_to_async

    return await sync_to_async(functools.partial(call, *args, **kwargs), thread_sensitive=False)()


def retry_delay(exc: Exception, poke_interval: float, now: datetime | None = None) -> float | None:
    """Seconds to wait before polling again after ``exc``, or None when polling must stop.

    A 429 is waited out until its reset time (``holdUntil``, ``X-RateLimit-Reset`` or
    ``Retry-After``), never less than the poke interval.
    """
    from airflow_provider_connectsafely import errors

    if not isinstance(exc, errors.ConnectSafelyError):
        return None
    if isinstance(exc, errors.RateLimitError):
        now = now or datetime.now(timezone.utc)
        if exc.reset_at is not None:
            wait = (exc.reset_at - now).total_seconds()
        elif exc.retry_after is not None:
            wait = exc.retry_after
        else:
            wait = RATE_LIMIT_DEFAULT_WAIT
        return max(wait, poke_interval)
    permanent = (
        errors.ConnectSafelyConfigError,
        errors.ConnectSafelyValidationError,
        errors.BadRequestError,
        errors.NotFoundError,
        errors.UnexpectedRedirectError,
    )
    if exc.stops_batch or isinstance(exc, permanent):
        return None
    return poke_interval


def error_payload(exc: Exception) -> dict[str, Any]:
    """The ``error`` event of a trigger: the error's class and message (never a secret: the
    client redacts the API key from server messages)."""
    message = getattr(exc, "message", None) or str(exc)
    return {"status": "error", "error": type(exc).__name__, "message": message}


def iso(value: datetime) -> str:
    """ISO 8601 in UTC, as triggers serialise times."""
    return parse_utc(value).isoformat()
