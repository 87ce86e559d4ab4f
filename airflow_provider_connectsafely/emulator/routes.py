"""Path templates of the emulated ``/linkedin/*`` endpoints and how a request path matches one.

A ``{name}`` segment matches one path segment, URL-decoded (so a URN such as
``urn:li:msg_conversation:2-ab`` may be sent as ``urn%3Ali%3Amsg_conversation%3A2-ab``).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

ACCOUNTS = "/linkedin/accounts"
ACCOUNT_STATUS = "/linkedin/account/status"
SEND = "/linkedin/messaging/send"
SEND_WITH_TYPING = "/linkedin/messaging/send-with-typing"
CONVERSATION_SEND = "/linkedin/conversations/send"
CONVERSATIONS = "/linkedin/conversations"
CONVERSATION_MESSAGES = "/linkedin/conversations/{conversationUrn}/messages"
RECENT_MESSAGES = "/linkedin/messaging/recent-messages"
CONNECT = "/linkedin/connect"
RELATIONSHIP = "/linkedin/relationship/{profileId}"

SEND_PATHS = (SEND, SEND_WITH_TYPING, CONVERSATION_SEND)
"""Endpoints that deliver a message: they count against the daily quota and faults with a
``match`` on body fields can target them."""

TEMPLATES = (
    ACCOUNTS,
    ACCOUNT_STATUS,
    SEND,
    SEND_WITH_TYPING,
    CONVERSATION_SEND,
    CONVERSATIONS,
    CONVERSATION_MESSAGES,
    RECENT_MESSAGES,
    CONNECT,
    RELATIONSHIP,
)


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
    return re.compile(regex)


_PATTERNS = tuple((template, _pattern(template)) for template in TEMPLATES)


def match(path: str) -> tuple[str, dict[str, str]] | None:
    """The template ``path`` matches and its decoded ``{name}`` values, or ``None``."""
    for template, pattern in _PATTERNS:
        found = pattern.fullmatch(path)
        if found:
            return template, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


def template_of(path: str) -> str:
    """The template of ``path`` (the path itself when no endpoint matches): the request-count key."""
    found = match(path)
    return path if found is None else found[0]
