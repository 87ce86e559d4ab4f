"""Turning HTTP answers into results or typed errors. No Airflow imports here."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.clock import from_iso

if TYPE_CHECKING:
    import requests

_MAX_TEXT = 500
# A number at or above this (the year 5138 in seconds) is a Unix time in milliseconds.
_MILLIS_FROM = 100_000_000_000


def parse_json(response: requests.Response) -> Any:
    """The body as JSON, or None when it is empty or not JSON."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def server_message(body: Any, raw_text: str = "", redact: str = "") -> str:
    """The server's own words from any documented error shape.

    Shapes: ``{"code", "message"}``; ``{"error": "..."}``; ``{"error": {"name": "ZodError",
    "issues": [...]}}``; ``{"errorDetails": {"message": ...}}``; else the raw text. At most
    ``_MAX_TEXT`` characters, with ``redact`` (the API key) replaced by ``***`` first.
    """
    return _clip(_redact(_server_words(body, raw_text), redact))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def _server_words(body: Any, raw_text: str) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            issues = error.get("issues")
            if isinstance(issues, list) and issues:
                return "; ".join(_describe_issue(issue) for issue in issues)
            if error.get("message"):
                return str(error["message"])
        elif error:
            return str(error)
        details = body.get("errorDetails")
        if isinstance(details, dict) and details.get("message"):
            return str(details["message"])
        if body.get("message"):
            code = body.get("code")
            return f"{body['message']} ({code})" if code else str(body["message"])
    text = " ".join(raw_text.split())
    if not text:
        return "(empty body)"
    if text.lstrip().startswith("<"):
        return "(an HTML page, probably from a proxy in front of the API)"
    return text[:_MAX_TEXT]


def _describe_issue(issue: Any) -> str:
    if not isinstance(issue, dict):
        return str(issue)
    parts = issue.get("path")
    path = ".".join(str(part) for part in parts) if isinstance(parts, list) else ""
    message = issue.get("message", "invalid")
    return f"{path}: {message}" if path else str(message)


def parse_time(value: Any, now: datetime) -> datetime | None:
    """Parse a reset time: ISO 8601, Unix seconds or milliseconds, seconds from now, or an
    HTTP date. None for anything else (absent, not a time, not finite, out of range)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return _from_number(number, now)
    try:
        parsed = from_iso(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        return None


def _from_number(number: float, now: datetime) -> datetime | None:
    if not math.isfinite(number):
        return None
    # Below ~2001-09 as a Unix time, a number is a delay in seconds, not a timestamp.
    if number < 1_000_000_000:
        return now + timedelta(seconds=max(number, 0.0))
    if number >= _MILLIS_FROM:
        number /= 1000
    try:
        return datetime.fromtimestamp(number, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def rate_limit_error(
    response: requests.Response, body: Any, now: datetime, redact: str = ""
) -> errors.RateLimitError:
    """A 429 with the latest of the reset times it names (``Retry-After``,
    ``X-RateLimit-Reset``, body ``holdUntil``)."""
    candidates = [
        parse_time(response.headers.get("Retry-After"), now),
        parse_time(response.headers.get("X-RateLimit-Reset"), now),
        parse_time(body.get("holdUntil") if isinstance(body, dict) else None, now),
    ]
    known = [moment for moment in candidates if moment is not None]
    reset_at = max(known) if known else None
    retry_after = max((reset_at - now).total_seconds(), 0.0) if reset_at else None
    words = server_message(body, response.text, redact)
    return errors.RateLimitError(response.status_code, words, retry_after, reset_at)


def error_for(response: requests.Response, now: datetime, redact: str = "") -> errors.ConnectSafelyError:
    """The typed error for a non-2xx answer.

    Only answers that prove the API did not send the message (3xx, 4xx, 503) say so; any other
    status (500, 502, 504, a CDN's 52x, ...) means the message may have gone out.
    """
    status = response.status_code
    body = parse_json(response)
    words = server_message(body, response.text, redact)
    if status == 429:
        return rate_limit_error(response, body, now, redact)
    if 300 <= status < 400:
        location = _clip(_redact(response.headers.get("Location") or "(no location)", redact))
        return errors.UnexpectedRedirectError(
            status,
            f"redirect to {location}",
            "Redirects are not followed; set the connection's base URL to the final address",
        )
    if not (400 <= status < 500 or status == 503):
        return errors.DeliveryUnknownError(f"ConnectSafely API answered {status}: {words}", status)
    kinds: dict[int, tuple[type[errors.ConnectSafelyAPIError], str]] = {
        400: (errors.BadRequestError, "Check the message fields against the API contract"),
        401: (errors.AuthenticationError, "Check the API key in the connection's password field"),
        403: (
            errors.PermissionDeniedError,
            "Check the ConnectSafely subscription, and that this account may message this person",
        ),
        404: (errors.NotFoundError, "Check the recipient, account ID or conversation URN"),
        503: (errors.ServiceUnavailableError, "The service is unavailable; try again later"),
    }
    kind, hint = kinds.get(status, (errors.ConnectSafelyAPIError, ""))
    return kind(status, words, hint)


def success_body(response: requests.Response, redact: str = "") -> dict[str, Any]:
    """The JSON of a 2xx send answer.

    :raises DeliveryUnknownError: the body is not a JSON object, so nothing confirms the send.
    :raises SendRejectedError: the body says ``"success": false``.
    """
    body = parse_json(response)
    if not isinstance(body, dict):
        raise errors.DeliveryUnknownError(
            f"ConnectSafely API answered {response.status_code} with a body that is not JSON",
            response.status_code,
        )
    if body.get("success") is False:
        words = server_message(body, response.text, redact)
        raise errors.SendRejectedError(response.status_code, words, "The API did not send it")
    if redact:
        # A server that echoes the key must not put it into XCom or the ledger. Checked on the
        # parsed values: the raw body may escape the key (\u0041, \/).
        return _redacted(body, redact)
    return body


def _redacted(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return value.replace(secret, "***")
    if isinstance(value, dict):
        return {_redacted(k, secret): _redacted(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(item, secret) for item in value]
    return value
