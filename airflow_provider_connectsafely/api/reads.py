"""The paged read endpoints: one request model each, and defensive parsing of their pages.
No Airflow imports here.

Each model knows its path, its query and where its page keeps items and the next cursor; the
client's one paging loop (:meth:`ConnectSafelyClient.read_all`) serves them all, so a new
paged endpoint is a new model here plus a one-line client method.

Lists are newest first. Pages are parsed defensively: unknown fields are ignored, a missing
list is empty, an item that is not an object is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import quote

from airflow_provider_connectsafely.api.models import check_account, check_urn, optional_text
from airflow_provider_connectsafely.api.responses import parse_time
from airflow_provider_connectsafely.clock import from_iso
from airflow_provider_connectsafely.errors import ConnectSafelyValidationError

CONVERSATIONS_PATH = "/linkedin/conversations"
CONVERSATION_MESSAGES_PATH = "/linkedin/conversations/{}/messages"
RECENT_MESSAGES_PATH = "/linkedin/messaging/recent-messages"
#: The API's largest page.
MAX_COUNT = 100


def parse_since(value: Any, name: str = "since") -> datetime:
    """An aware datetime, or an ISO 8601 string with an offset (``Z`` allowed), as UTC.

    :param value: the moment.
    :param name: the parameter name used in errors.
    :raises ConnectSafelyValidationError: naive, not a time, or not parseable.
    """
    fix = "pass an aware datetime (e.g. datetime.now(timezone.utc)) or an ISO 8601 string with an offset"
    if isinstance(value, str):
        text = value.strip()
        try:
            value = from_iso(text)
        except ValueError:
            raise ConnectSafelyValidationError(name, f"{text!r} is not an ISO 8601 time", fix) from None
    if not isinstance(value, datetime):
        raise ConnectSafelyValidationError(name, f"expected a datetime, got {type(value).__name__}", fix)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConnectSafelyValidationError(name, f"{value.isoformat()} has no time zone", fix)
    return value.astimezone(timezone.utc)


def iso_utc(moment: datetime) -> str:
    """``2026-03-04T10:00:00.123Z``: milliseconds, truncated (so the API returns a superset)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True)
class PagedRead:
    """One paged ``GET`` endpoint, newest first.

    :param account_id: the LinkedIn account (the API's default when None).
    :param count: page size, 1 to 100.
    :param since: keep only items after this moment (aware); paging stops at the first older item.
    """

    #: the key of the page's item list.
    items_key: ClassVar[str]
    #: the query parameter carrying the cursor of the next page.
    cursor_param: ClassVar[str] = "nextCursor"
    #: where an item keeps its time, first found wins.
    time_fields: ClassVar[tuple[str, ...]] = ("sentAt", "createdAt", "timestamp")
    #: where an item keeps its identity (to drop an item a shifted page repeats).
    id_field: ClassVar[str] = "messageUrn"

    account_id: str | None = None
    count: int = MAX_COUNT
    since: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "account_id", check_account(self.account_id))
        if (
            isinstance(self.count, bool)
            or not isinstance(self.count, int)
            or not 1 <= self.count <= MAX_COUNT
        ):
            raise ConnectSafelyValidationError(
                "page_size", f"{self.count!r} is not a page size", f"use a whole number from 1 to {MAX_COUNT}"
            )
        if self.since is not None:
            object.__setattr__(self, "since", parse_since(self.since))

    @property
    def path(self) -> str:
        raise NotImplementedError

    def params(self, cursor: str | None) -> dict[str, str]:
        """The query of one page (``cursor``: None for the first)."""
        query = {"count": str(self.count)}
        if self.account_id:
            query["accountId"] = self.account_id
        if self.since is not None:
            query["since"] = iso_utc(self.since)
        if cursor:
            query[self.cursor_param] = cursor
        return query

    def items(self, body: Any) -> list[dict[str, Any]]:
        """The page's items (objects only; none when the list is missing)."""
        found = _field(body, self.items_key)
        if found is None:
            data = _field(body, "data")
            found = data if isinstance(data, list) else _field(data, self.items_key)
        return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []

    def time_of(self, item: dict[str, Any]) -> datetime | None:
        """When the item happened, or None when it does not say."""
        now = datetime.now(timezone.utc)
        for name in self.time_fields:
            moment = parse_time(item.get(name), now) if item.get(name) is not None else None
            if moment is not None:
                return moment
        return None

    def is_new(self, item: dict[str, Any]) -> bool:
        """Strictly after ``since`` (an item with no time is kept: it cannot be shown old)."""
        moment = self.time_of(item)
        return self.since is None or moment is None or moment > self.since


@dataclass(frozen=True, kw_only=True)
class ConversationMessagesRead(PagedRead):
    """``GET /linkedin/conversations/{conversationUrn}/messages``.

    :param conversation_urn: the conversation (``urn:li:msg_conversation:...``).
    """

    items_key: ClassVar[str] = "messages"
    cursor_param: ClassVar[str] = "cursor"

    conversation_urn: str

    def __post_init__(self) -> None:
        super().__post_init__()
        urn = optional_text("conversation_urn", self.conversation_urn)
        if urn is None:
            raise ConnectSafelyValidationError(
                "conversation_urn", "no conversation given", "pass the conversationUrn a send answered"
            )
        check_urn("conversation_urn", urn)
        object.__setattr__(self, "conversation_urn", urn)

    @property
    def path(self) -> str:
        return CONVERSATION_MESSAGES_PATH.format(quote(self.conversation_urn, safe=""))


@dataclass(frozen=True, kw_only=True)
class ConversationsRead(PagedRead):
    """``GET /linkedin/conversations``: the account's conversations, latest activity first.

    :param unread_only: only conversations with unread messages.
    """

    items_key: ClassVar[str] = "conversations"
    time_fields: ClassVar[tuple[str, ...]] = ("lastActivityAt", "updatedAt")
    id_field: ClassVar[str] = "conversationUrn"

    unread_only: bool = False

    @property
    def path(self) -> str:
        return CONVERSATIONS_PATH

    def params(self, cursor: str | None) -> dict[str, str]:
        query = super().params(cursor)
        if self.unread_only:
            query["unreadOnly"] = "true"
        return query


@dataclass(frozen=True, kw_only=True)
class RecentMessagesRead(PagedRead):
    """``GET /linkedin/messaging/recent-messages``: messages across conversations."""

    items_key: ClassVar[str] = "messages"

    @property
    def path(self) -> str:
        return RECENT_MESSAGES_PATH


def next_cursor(body: Any) -> str | None:
    """The cursor of the next page, or None on the last page."""
    for holder in (body, _field(body, "data"), _field(body, "pagination")):
        cursor = _field(holder, "nextCursor")
        if isinstance(cursor, int) and not isinstance(cursor, bool):
            cursor = str(cursor)
        if isinstance(cursor, str) and cursor.strip():
            return cursor
    return None


def is_reply(message: dict[str, Any]) -> bool:
    """Written by the other person (``isSentByOwner`` false); a message without the flag is not."""
    return message.get("isSentByOwner") is False


def oldest_first(messages: Iterable[dict[str, Any]], read: PagedRead) -> list[dict[str, Any]]:
    """Messages by time, oldest first; those with no time last, in the order the API gave them
    reversed (the API lists newest first)."""
    ordered = list(messages)[::-1]
    far = datetime.max.replace(tzinfo=timezone.utc)
    return sorted(ordered, key=lambda m: read.time_of(m) or far)


def conversation_of(message: dict[str, Any]) -> str | None:
    """The conversation a message belongs to, as the API named it."""
    for name in ("conversationUrn", "conversationId"):
        value = message.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def replies_by_conversation(messages: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The replies among ``messages`` (oldest first), grouped by conversation, in order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        if is_reply(message):
            grouped.setdefault(conversation_of(message) or "", []).append(message)
    return grouped


def _field(holder: Any, name: str) -> Any:
    return holder.get(name) if isinstance(holder, dict) else None
