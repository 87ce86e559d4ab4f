"""The conversation store: one thread per (account, other person), with its messages.

Every delivered send, and every reply made through the control endpoints, lands here.
Identifiers are deterministic: the thread id is derived from the account id and the other
person's profile URN, the message URN from the thread id and the message's position, so the
same scenario yields the same URNs after a reset or in another run.

For a message written by the account itself, ``senderProfileId`` is the account id (the
emulator has no profile for its own accounts). A conversation's ``participants`` lists the
other person only: their profile id, or their URN when they were only ever named by URN.
Incoming messages count as unread until the account writes in that conversation again.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import iso_z
from .paging import Key, newest_first

CONVERSATION_URN_PREFIX = "urn:li:msg_conversation:"


def thread_id(account_id: str, recipient_urn: str) -> str:
    """The deterministic thread id of the conversation between an account and a profile."""
    return "2-" + hashlib.sha256(f"{account_id}|{recipient_urn}".encode()).hexdigest()[:32]


@dataclass
class Message:
    """One message of a conversation.

    :param seq: arrival order across the whole store (breaks ties between equal times).
    :param urn: ``urn:li:msg_message:...``.
    :param conversation_urn: the conversation it belongs to.
    :param text: message text.
    :param sent_at: when it was sent (UTC).
    :param by_owner: written by the account (``False``: a reply from the other person).
    :param sender: ``senderProfileId``.
    """

    seq: int
    urn: str
    conversation_urn: str
    text: str
    sent_at: datetime
    by_owner: bool
    sender: str

    @property
    def key(self) -> Key:
        """Sort key, oldest to newest."""
        return self.sent_at, self.seq

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as in the message lists."""
        return {
            "messageUrn": self.urn,
            "conversationUrn": self.conversation_urn,
            "text": self.text,
            "sentAt": iso_z(self.sent_at, millis=True),
            "isSentByOwner": self.by_owner,
            "senderProfileId": self.sender,
        }


@dataclass
class Conversation:
    """A thread between one account and one other person.

    :param account_id: the account's id.
    :param recipient_urn: the other person's profile URN.
    :param participant: the other person's profile id (their URN if no id is known).
    :param messages: messages in arrival order.
    """

    account_id: str
    recipient_urn: str
    participant: str
    messages: list[Message] = field(default_factory=list)

    @property
    def thread_id(self) -> str:
        return thread_id(self.account_id, self.recipient_urn)

    @property
    def urn(self) -> str:
        return CONVERSATION_URN_PREFIX + self.thread_id

    @property
    def last(self) -> Message:
        """The newest message (by ``sentAt``, then arrival)."""
        return max(self.messages, key=lambda m: m.key)

    @property
    def unread_count(self) -> int:
        """Incoming messages that arrived after the account last wrote."""
        read_up_to = max((m.seq for m in self.messages if m.by_owner), default=0)
        return sum(1 for m in self.messages if not m.by_owner and m.seq > read_up_to)

    def to_dict(self, *, with_messages: bool = False) -> dict[str, Any]:
        """JSON form, as in ``GET /linkedin/conversations`` (plus ``messages``, oldest first)."""
        last = self.last
        answer = {
            "conversationUrn": self.urn,
            "threadId": self.thread_id,
            "accountId": self.account_id,
            "participants": [self.participant],
            "recipientProfileUrn": self.recipient_urn,
            "lastActivityAt": iso_z(last.sent_at, millis=True),
            "lastMessage": last.to_dict(),
            "unreadCount": self.unread_count,
        }
        if with_messages:
            answer["messages"] = [m.to_dict() for m in sorted(self.messages, key=lambda m: m.key)]
        return answer


class ConversationStore:
    """All conversations, guarded by the emulator state's lock.

    :param lock: the lock of the ``EmulatorState`` that owns the store.
    """

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._seq = 0
        self._by_urn: dict[str, Conversation] = {}

    def clear_locked(self) -> None:
        """Forget everything; the caller holds the lock."""
        self._seq = 0
        self._by_urn.clear()

    def post(
        self,
        account_id: str,
        recipient_urn: str,
        participant: str,
        text: str,
        at: datetime,
        *,
        by_owner: bool,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Add a message to the conversation between the account and a person, creating it if needed.

        :returns: the conversation (without messages) and the new message, as JSON.
        """
        with self._lock:
            urn = CONVERSATION_URN_PREFIX + thread_id(account_id, recipient_urn)
            conversation = self._by_urn.get(urn)
            if conversation is None:
                conversation = self._by_urn[urn] = Conversation(account_id, recipient_urn, participant)
            elif conversation.participant == recipient_urn and participant != recipient_urn:
                conversation.participant = participant  # first time the person is named by id
            return self._append(conversation, text, at, by_owner)

    def post_to(
        self, account_id: str | None, conversation_urn: str, text: str, at: datetime, *, by_owner: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Add a message to an existing conversation (of ``account_id``, unless ``None``).

        :raises LookupError: no such conversation.
        """
        with self._lock:
            return self._append(self._find(account_id, conversation_urn), text, at, by_owner)

    def find(self, account_id: str | None, conversation_urn: str) -> dict[str, Any] | None:
        """The conversation (without messages), or ``None`` if the account has no such one."""
        with self._lock:
            try:
                return self._find(account_id, conversation_urn).to_dict()
            except LookupError:
                return None

    def messages_page(
        self, account_id: str, conversation_urn: str, count: int, before: Key | None, since: datetime | None
    ) -> tuple[list[dict[str, Any]], Key | None]:
        """One page of a conversation's messages, newest first, sent strictly after ``since``.

        :raises LookupError: no such conversation for this account.
        """
        with self._lock:
            messages = self._find(account_id, conversation_urn).messages
            return self._page(messages, count, before, since)

    def recent_page(
        self, account_id: str, count: int, before: Key | None, since: datetime | None
    ) -> tuple[list[dict[str, Any]], Key | None]:
        """One page of the account's messages across its conversations, newest first."""
        with self._lock:
            messages = [m for c in self._by_urn.values() if c.account_id == account_id for m in c.messages]
            return self._page(messages, count, before, since)

    def conversations_page(
        self, account_id: str, count: int, before: Key | None, *, unread_only: bool
    ) -> tuple[list[dict[str, Any]], Key | None]:
        """One page of the account's conversations, most recent activity first."""
        with self._lock:
            mine = [
                c
                for c in self._by_urn.values()
                if c.account_id == account_id and (c.unread_count or not unread_only)
            ]
            page, after = newest_first(mine, lambda c: c.last.key, count, before)
            return [c.to_dict() for c in page], after

    def snapshot(self) -> list[dict[str, Any]]:
        """Every conversation with its messages (oldest first), in order of creation."""
        with self._lock:
            return [c.to_dict(with_messages=True) for c in self._by_urn.values()]

    def _find(self, account_id: str | None, conversation_urn: str) -> Conversation:
        conversation = self._by_urn.get(conversation_urn)
        if conversation is None or account_id not in (None, conversation.account_id):
            raise LookupError("Conversation not found")
        return conversation

    def _append(
        self, conversation: Conversation, text: str, at: datetime, by_owner: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)  # sentAt shows milliseconds
        self._seq += 1
        position = len(conversation.messages) + 1
        digest = hashlib.sha256(f"{conversation.thread_id}:{position}".encode()).hexdigest()[:32]
        sender = conversation.account_id if by_owner else conversation.participant
        message = Message(
            self._seq, f"urn:li:msg_message:2-{digest}", conversation.urn, text, at, by_owner, sender
        )
        conversation.messages.append(message)
        return conversation.to_dict(), message.to_dict()

    @staticmethod
    def _page(
        messages: list[Message], count: int, before: Key | None, since: datetime | None
    ) -> tuple[list[dict[str, Any]], Key | None]:
        recent = [m for m in messages if since is None or m.sent_at > since]
        page, after = newest_first(recent, lambda m: m.key, count, before)
        return [m.to_dict() for m in page], after
