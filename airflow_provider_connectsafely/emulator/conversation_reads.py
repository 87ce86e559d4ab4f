"""The read endpoints of conversations: the conversation list, one conversation's messages and
the recent messages across conversations. All are newest first and paged (see :mod:`.paging`).

- ``GET /linkedin/conversations?accountId&count&nextCursor&unreadOnly``
- ``GET /linkedin/conversations/{conversationUrn}/messages?accountId&count&cursor&since``
- ``GET /linkedin/messaging/recent-messages?accountId&count&nextCursor&since``

``count`` defaults to 20 and must be 1 to 100; the cursor parameter is ``cursor`` for one
conversation's messages and ``nextCursor`` for the two lists, as documented (another name is
ignored, as the real API ignores unknown parameters). ``since`` (ISO 8601) keeps only
messages sent strictly after it; on ``recent-messages`` it is emulator behaviour, matching the
per-conversation ``since``. The other documented filters (``keywords``, ``read``,
``labeledOnly``, ``labelId``, ``sync``) are accepted and ignored. Answers carry ``nextCursor``:
``null`` on the last page. Invalid query values answer 400 ``validation_error``; an unknown
account or conversation 404.
"""

from __future__ import annotations

from datetime import datetime

from .clock import parse_iso
from .conversations import ConversationStore
from .paging import Key, decode_cursor, encode_cursor, parse_count
from .replies import Outcome, error_reply, json_reply, validation_reply
from .state import EmulatorState

_BOOLEANS = {"true": True, "1": True, "false": False, "0": False, "": False}


class _BadQuery(ValueError):
    pass


class ConversationReads:
    """Handlers of the conversation read endpoints.

    :param state: the shared state.
    """

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    @property
    def _store(self) -> ConversationStore:
        return self.state.conversations

    def conversations(self, query: dict[str, str], _body: object, _params: dict[str, str]) -> Outcome:
        """``GET /linkedin/conversations``."""
        account = self.state.account(query.get("accountId"))
        if account is None:
            return _no_account()
        try:
            count, before, _since = _paging(query, "nextCursor")
            unread = _BOOLEANS.get(query.get("unreadOnly", "").lower())
            if unread is None:
                raise _BadQuery("unreadOnly must be true or false")
        except _BadQuery as exc:
            return Outcome(validation_reply(str(exc)))
        page, after = self._store.conversations_page(account.id, count, before, unread_only=unread)
        return _page("conversations", page, after)

    def messages(self, query: dict[str, str], _body: object, params: dict[str, str]) -> Outcome:
        """``GET /linkedin/conversations/{conversationUrn}/messages``."""
        account = self.state.account(query.get("accountId"))
        if account is None:
            return _no_account()
        try:
            count, before, since = _paging(query, "cursor")
        except _BadQuery as exc:
            return Outcome(validation_reply(str(exc)))
        try:
            page, after = self._store.messages_page(
                account.id, params["conversationUrn"], count, before, since
            )
        except LookupError:
            return Outcome(error_reply(404, "Conversation not found"))
        return _page("messages", page, after)

    def recent_messages(self, query: dict[str, str], _body: object, _params: dict[str, str]) -> Outcome:
        """``GET /linkedin/messaging/recent-messages``."""
        account = self.state.account(query.get("accountId"))
        if account is None:
            return _no_account()
        try:
            count, before, since = _paging(query, "nextCursor")
        except _BadQuery as exc:
            return Outcome(validation_reply(str(exc)))
        page, after = self._store.recent_page(account.id, count, before, since)
        return _page("messages", page, after)


def _paging(query: dict[str, str], cursor_name: str) -> tuple[int, Key | None, datetime | None]:
    try:
        count = parse_count(query.get("count"))
        cursor = query.get(cursor_name) or None
        before = None if cursor is None else decode_cursor(cursor)
        since = None if not query.get("since") else parse_iso(query["since"])
    except ValueError as exc:
        raise _BadQuery(str(exc)) from None
    return count, before, since


def _page(name: str, items: list[dict[str, object]], after: Key | None) -> Outcome:
    cursor = None if after is None else encode_cursor(after)
    return Outcome(json_reply(200, {"success": True, name: items, "nextCursor": cursor}))


def _no_account() -> Outcome:
    return Outcome(error_reply(404, "LinkedIn account not found"))
