"""Validation of request bodies, mirroring the real API's Zod schemas and its issue format."""

from __future__ import annotations

from typing import Any

MESSAGE_TYPES = ("normal", "inmail")
MESSAGING_CHANNELS = ("auto", "sales_navigator", "linkedin_inbox")
MAX_SUBJECT_LENGTH = 200
MAX_CONNECT_NOTE_LENGTH = 300
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
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _invalid_type(field: str, value: object, expected: str = "string") -> dict[str, Any]:
    received = _js_type(value)
    text = "Required" if value is _MISSING else f"Expected {expected}, received {received}"
    return {
        "code": "invalid_type",
        "expected": expected,
        "received": received,
        "path": [field],
        "message": text,
    }


def _too_big(field: str, maximum: int) -> dict[str, Any]:
    return {
        "code": "too_big",
        "maximum": maximum,
        "type": "string",
        "inclusive": True,
        "path": [field],
        "message": f"String must contain at most {maximum} character(s)",
    }


def _bad_enum(field: str, options: tuple[str, ...], received: str) -> dict[str, Any]:
    expected = " | ".join(f"'{o}'" for o in options)
    return {
        "code": "invalid_enum_value",
        "options": list(options),
        "received": received,
        "path": [field],
        "message": f"Invalid enum value. Expected {expected}, received '{received}'",
    }


def _one_of(
    fields: tuple[str, ...], issues: list[dict[str, Any]], body: dict[str, Any]
) -> list[dict[str, Any]]:
    if any(isinstance(body.get(f), str) and body[f] for f in fields):
        return []
    if any(i["path"][0] in fields for i in issues):
        return []
    names = ", ".join(fields[:-1]) + f" or {fields[-1]}"
    return [{"code": "custom", "path": [fields[0]], "message": f"Either {names} must be provided"}]


def _message_issues(body: dict[str, Any]) -> list[dict[str, Any]]:
    message = body.get("message", _MISSING)
    if not isinstance(message, str):
        return [_invalid_type("message", message)]
    if message == "":
        return [
            {
                "code": "too_small",
                "minimum": 1,
                "type": "string",
                "inclusive": True,
                "path": ["message"],
                "message": "String must contain at least 1 character(s)",
            }
        ]
    return []


def _string_issues(body: dict[str, Any], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    return [_invalid_type(f, body[f]) for f in fields if f in body and not isinstance(body[f], str)]


def _subject_issues(body: dict[str, Any]) -> list[dict[str, Any]]:
    subject = body.get("subject")
    if isinstance(subject, str) and js_length(subject) > MAX_SUBJECT_LENGTH:
        return [_too_big("subject", MAX_SUBJECT_LENGTH)]
    return []


def send_issues(body: dict[str, Any], *, with_conversation: bool) -> list[dict[str, Any]]:
    """Return the Zod issues for a ``/linkedin/messaging/send*`` body (empty when it is valid).

    :param body: the parsed JSON object.
    :param with_conversation: whether ``conversationUrn`` is part of the schema
        (``send-with-typing`` only; other endpoints ignore it, as Zod strips unknown keys).
    """
    issues = _message_issues(body)
    typed = (*_OPTIONAL_STRINGS, "messageType", *(("conversationUrn",) if with_conversation else ()))
    issues += _string_issues(body, typed)
    issues += _one_of(_RECIPIENT_FIELDS, issues, body)
    message_type = body.get("messageType")
    if isinstance(message_type, str) and message_type not in MESSAGE_TYPES:
        issues.append(_bad_enum("messageType", MESSAGE_TYPES, message_type))
    return issues + _subject_issues(body)


def conversation_send_issues(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the Zod issues for a ``POST /linkedin/conversations/send`` body."""
    issues = _message_issues(body)
    issues += _string_issues(body, (*_OPTIONAL_STRINGS, "conversationUrn", "messagingChannel"))
    issues += _one_of((*_RECIPIENT_FIELDS, "conversationUrn"), issues, body)
    channel = body.get("messagingChannel")
    if isinstance(channel, str) and channel not in MESSAGING_CHANNELS:
        issues.append(_bad_enum("messagingChannel", MESSAGING_CHANNELS, channel))
    if "attachments" in body and not isinstance(body["attachments"], list):
        issues.append(_invalid_type("attachments", body["attachments"], "array"))
    return issues + _subject_issues(body)


def connect_issues(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the Zod issues for a ``POST /linkedin/connect`` body."""
    issues = _string_issues(body, ("accountId", "profileId", "profileUrn", "customMessage"))
    issues += _one_of(("profileId", "profileUrn"), issues, body)
    note = body.get("customMessage")
    if isinstance(note, str) and js_length(note) > MAX_CONNECT_NOTE_LENGTH:
        issues.append(_too_big("customMessage", MAX_CONNECT_NOTE_LENGTH))
    return issues
