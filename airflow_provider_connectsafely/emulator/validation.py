"""Validation of send bodies, mirroring the real API's Zod schema and its issue format."""

from __future__ import annotations

from typing import Any

MESSAGE_TYPES = ("normal", "inmail")
MAX_SUBJECT_LENGTH = 200
_MISSING = object()
_RECIPIENT_FIELDS = ("recipientProfileId", "recipientProfileUrn")
_OPTIONAL_STRINGS = ("accountId", *_RECIPIENT_FIELDS, "subject")


def js_length(text: str) -> int:
    """A string's length as JavaScript (and so Zod's ``.max()``) counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _js_type(value: object) -> str:
    if value is _MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _invalid_type(field: str, value: object) -> dict[str, Any]:
    received = _js_type(value)
    text = "Required" if value is _MISSING else f"Expected string, received {received}"
    return {
        "code": "invalid_type",
        "expected": "string",
        "received": received,
        "path": [field],
        "message": text,
    }


def send_issues(body: dict[str, Any], *, with_conversation: bool) -> list[dict[str, Any]]:
    """Return the Zod issues for a send body (empty when it is valid).

    :param body: the parsed JSON object.
    :param with_conversation: whether ``conversationUrn`` is part of the schema
        (``send-with-typing`` only; other endpoints ignore it, as Zod strips unknown keys).
    """
    issues: list[dict[str, Any]] = []
    message = body.get("message", _MISSING)
    if not isinstance(message, str):
        issues.append(_invalid_type("message", message))
    elif message == "":
        issues.append(
            {
                "code": "too_small",
                "minimum": 1,
                "type": "string",
                "inclusive": True,
                "path": ["message"],
                "message": "String must contain at least 1 character(s)",
            }
        )
    typed = (*_OPTIONAL_STRINGS, "messageType", *(("conversationUrn",) if with_conversation else ()))
    for field in typed:
        if field in body and not isinstance(body[field], str):
            issues.append(_invalid_type(field, body[field]))
    has_recipient = any(isinstance(body.get(f), str) and body[f] for f in _RECIPIENT_FIELDS)
    if not has_recipient and not any(i["path"][0] in _RECIPIENT_FIELDS for i in issues):
        issues.append(
            {
                "code": "custom",
                "path": ["recipientProfileId"],
                "message": "Either recipientProfileId or recipientProfileUrn must be provided",
            }
        )
    message_type = body.get("messageType")
    if isinstance(message_type, str) and message_type not in MESSAGE_TYPES:
        issues.append(
            {
                "code": "invalid_enum_value",
                "options": list(MESSAGE_TYPES),
                "received": message_type,
                "path": ["messageType"],
                "message": f"Invalid enum value. Expected 'normal' | 'inmail', received '{message_type}'",
            }
        )
    subject = body.get("subject")
    if isinstance(subject, str) and js_length(subject) > MAX_SUBJECT_LENGTH:
        issues.append(
            {
                "code": "too_big",
                "maximum": MAX_SUBJECT_LENGTH,
                "type": "string",
                "inclusive": True,
                "path": ["subject"],
                "message": f"String must contain at most {MAX_SUBJECT_LENGTH} character(s)",
            }
        )
    return issues
