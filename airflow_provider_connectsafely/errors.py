"""Typed errors of the ConnectSafely client. No Airflow imports here.

Every error says whether the message could have reached the person, because that decides
what may be retried: ``delivered`` is ``False`` when the API provably did not send it,
``None`` when nobody can tell (a retry could message the person twice).
"""

from __future__ import annotations

from datetime import datetime


class ConnectSafelyError(Exception):
    """Base class of every error this provider raises about ConnectSafely.

    :param message: what went wrong and how to fix it, in plain words.
    """

    #: ``False``: the API did not send the message; ``None``: unknown.
    delivered: bool | None = False
    #: ``True`` when running the same send again later may succeed.
    retryable: bool = False
    #: ``True`` when no other recipient can succeed either: a batch stops at once.
    stops_batch: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectSafelyConfigError(ConnectSafelyError):
    """The connection settings are unusable (missing API key, plain http to a remote host...)."""

    stops_batch = True


class ConnectSafelyValidationError(ConnectSafelyError, ValueError):
    """A send request is invalid; raised before anything is sent.

    :param field: the parameter that is wrong, as the caller named it.
    :param problem: what is wrong with it.
    :param fix: what to do instead.
    """

    def __init__(self, field: str, problem: str, fix: str) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"Invalid `{field}`: {problem}. Fix: {fix}")


class ConnectSafelyAPIError(ConnectSafelyError):
    """The API answered with an error status.

    :param status_code: the HTTP status.
    :param server_message: the server's own words, parsed from whichever error shape it used.
    :param hint: what the user can do about it.
    """

    def __init__(self, status_code: int, server_message: str, hint: str = "") -> None:
        self.status_code = status_code
        self.server_message = server_message
        text = f"ConnectSafely API answered {status_code}: {server_message}"
        end = " " if text.endswith((".", "!", "?")) else ". "
        super().__init__(f"{text}{end}{hint}" if hint else text)


class BadRequestError(ConnectSafelyAPIError):
    """400: the API rejected the request body."""


class AuthenticationError(ConnectSafelyAPIError):
    """401: the API key is wrong, revoked or missing."""

    stops_batch = True


class PermissionDeniedError(ConnectSafelyAPIError):
    """403: no active subscription, trial expired, or not allowed to message this person."""

    stops_batch = True


class NotFoundError(ConnectSafelyAPIError):
    """404: the recipient, the LinkedIn account or the conversation does not exist."""


class UnexpectedRedirectError(ConnectSafelyAPIError):
    """3xx: redirects are not followed (a re-sent POST could duplicate a message)."""


class ServiceUnavailableError(ConnectSafelyAPIError):
    """503: the service refused the request before handling it; a later try may work."""

    retryable = True


class SendRejectedError(ConnectSafelyAPIError):
    """200 with ``"success": false``: the API handled the request but did not send."""


class RateLimitError(ConnectSafelyAPIError):
    """429: a daily quota or the request rate is used up.

    :param retry_after: seconds to wait before trying again, when the answer said.
    :param reset_at: the moment (UTC) the limit resets, when the answer said.
    """

    retryable = True

    def __init__(
        self,
        status_code: int,
        server_message: str,
        retry_after: float | None,
        reset_at: datetime | None,
    ) -> None:
        self.retry_after = retry_after
        self.reset_at = reset_at
        when = f"resets at {reset_at.isoformat()}" if reset_at else "no reset time given"
        super().__init__(status_code, server_message, f"Rate limited ({when})")


class ConnectionFailedError(ConnectSafelyError):
    """The connection could not be opened: the request never left this machine."""

    retryable = True


class DeliveryUnknownError(ConnectSafelyError):
    """The request went out but no usable answer came back (read timeout, 500/502/504,
    connection dropped, unreadable 200). The message may or may not have been sent, and
    the API has no idempotency key, so this is never retried automatically.

    :param status_code: the HTTP status, when there was one.
    """

    delivered = None

    def __init__(self, message: str, status_code: int | None = None) -> None:
        self.status_code = status_code
        #: what went wrong, without the words about delivery (for reads, which deliver nothing).
        self.reason = message
        super().__init__(
            f"{message}. The message may or may not have been delivered; it was not retried "
            "because the API has no idempotency key and a retry could message the person twice. "
            "Check the LinkedIn conversation before sending again."
        )


class ReadFailedError(ConnectSafelyError):
    """A read (``GET``) got no usable answer: a timeout, a 5xx, a dropped connection or an
    unreadable body. Reads change nothing, so they are safe to retry.

    :param message: what went wrong.
    :param status_code: the HTTP status, when there was one.
    """

    retryable = True

    def __init__(self, message: str, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(f"{message}. Nothing was sent; reading again is safe")
