"""HTTP answers as plain data, so the API logic and the faults never touch a socket."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Reply:
    """One HTTP answer.

    :param status: HTTP status code.
    :param body: raw body bytes (``Content-Length`` is always derived from it).
    :param content_type: ``Content-Type`` header, or ``None`` to send none.
    :param headers: extra headers.
    """

    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What handling a ``/linkedin/*`` request produced.

    :param reply: the answer, or ``None`` to reset the connection without answering.
    :param message: the delivered message (see ``EmulatorState.messages``), or ``None``.
    :param delay: seconds to wait after recording and before answering.
    :param cut: send the status line, the headers (with the full ``Content-Length``) and only
        the first half of the body, then close the connection: an answer cut off mid-body.
    """

    reply: Reply | None
    message: dict[str, Any] | None = None
    delay: float = 0.0
    cut: bool = False


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    """Build a JSON answer."""
    return Reply(status, json.dumps(payload).encode(), JSON_TYPE, dict(headers or {}))


def error_reply(status: int, error: str, headers: dict[str, str] | None = None) -> Reply:
    """Build the API's usual ``{"success": false, "error": ...}`` answer."""
    return json_reply(status, {"success": False, "error": error}, headers)


def validation_reply(message: str) -> Reply:
    """Build the API's ``validation_error`` answer (body is not a JSON object, ...)."""
    return json_reply(400, {"success": False, "code": "validation_error", "message": message})


def zod_reply(issues: list[dict[str, Any]]) -> Reply:
    """Build the API's Zod validation answer."""
    return json_reply(400, {"success": False, "error": {"name": "ZodError", "issues": issues}})
