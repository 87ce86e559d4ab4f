"""The conversation send model, the read models and their paging: validation and defensive
parsing as pure logic, paging and retries against the emulator over loopback. Time comes from
a ManualClock set to fixed values: nothing here depends on today's date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.api.client import ConnectSafelyClient
from airflow_provider_connectsafely.api.conversation_send import (
    ConversationSendRequest,
    build_send_request,
    check_endpoint,
)
from airflow_provider_connectsafely.api.models import MessageRequest
from airflow_provider_connectsafely.api.reads import (
    ConversationMessagesRead,
    ConversationsRead,
    RecentMessagesRead,
    next_cursor,
    oldest_first,
    parse_since,
    replies_by_conversation,
)
from airflow_provider_connectsafely.api.retry import ReadFailureHandler, RetryPolicy
from airflow_provider_connectsafely.emulator import EmulatorServer, ManualClock

KEY = "conversation-client-key-5d1e"
START = datetime(2026, 5, 6, 9, 0, tzinfo=timezone.utc)
CLOCK = ManualClock(START)
URN = "urn:li:msg_conversation:2-abc"
MESSAGES = "GET /linkedin/conversations/{conversationUrn}/messages"
RECENT = "GET /linkedin/messaging/recent-messages"


# --- the send model -----------------------------------------------------------------------------


def test_conversation_send_body_by_recipient_and_by_urn():
    by_recipient = build_send_request(
        endpoint="conversations",
        message="Hi",
        recipient_profile_id="https://www.linkedin.com/in/jane-doe/",
        messaging_channel=" LinkedIn_Inbox ",
        attachments=["https://example.com/a.pdf"],
        subject="Hello",
    )
    assert isinstance(by_recipient, ConversationSendRequest)
    assert by_recipient.path == "/linkedin/conversations/send"
    assert by_recipient.to_body() == {
        "recipientProfileId": "jane-doe",
        "message": "Hi",
        "subject": "Hello",
        "attachments": ["https://example.com/a.pdf"],
        "messagingChannel": "linkedin_inbox",
    }
    by_urn = build_send_request(endpoint="conversations", message="Again", conversation_urn=URN)
    assert by_urn.to_body() == {"conversationUrn": URN, "message": "Again"}
    assert by_urn.recipient == URN
    assert by_urn.with_default_account("a" * 24).to_body()["accountId"] == "a" * 24
    messaging = build_send_request(message="Hi", recipient_profile_id="x")
    assert type(messaging) is MessageRequest and messaging.path == "/linkedin/messaging/send"


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"endpoint": "inbox"}, "endpoint", "'messaging'"),
        ({"endpoint": "conversations", "messaging_channel": "email"}, "messaging_channel", "linkedin_inbox"),
        ({"messaging_channel": "auto"}, "messaging_channel", "endpoint='conversations'"),
        ({"attachments": ["a"]}, "attachments", "endpoint='conversations'"),
        (
            {"recipient_profile_id": None, "conversation_urn": URN},
            "conversation_urn",
            "endpoint='conversations'",
        ),
        ({"conversation_urn": URN}, "conversation_urn", "typing_indicator=True"),
        ({"endpoint": "conversations", "conversation_urn": URN}, "conversation_urn", "not both"),
        (
            {"endpoint": "conversations", "conversation_urn": "2-abc", "recipient_profile_id": None},
            "conversation_urn",
            "urn:li:",
        ),
        ({"endpoint": "conversations", "recipient_profile_id": None}, "recipient_profile_id", "no recipient"),
        ({"endpoint": "conversations", "message_type": "inmail"}, "message_type", "endpoint='messaging'"),
        ({"endpoint": "conversations", "typing_indicator": True}, "typing_indicator", "endpoint='messaging'"),
        ({"endpoint": "conversations", "attachments": "a.pdf"}, "attachments", "a list"),
        ({"endpoint": "conversations", "attachments": [3]}, "attachments", "item 0"),
        ({"endpoint": "conversations", "message": "   "}, "message", "empty"),
        ({"endpoint": "conversations", "subject": "s" * 201}, "subject", "limit of 200"),
    ],
)
def test_send_validation_names_the_field_and_the_fix(fields, field, words):
    values: dict[str, Any] = {"message": "Hi", "recipient_profile_id": "jane", **fields}
    with pytest.raises(errors.ConnectSafelyValidationError) as info:
        build_send_request(**values)
    assert info.value.field == field
    assert words in str(info.value)
    assert "Fix:" in str(info.value)


def test_endpoint_check_is_a_value_error():
    assert check_endpoint("conversations", "normal") == "conversations"
    assert check_endpoint("messaging", "inmail") == "messaging"
    assert check_endpoint("conversations", "{{ params.kind }}") == "conversations"
    with pytest.raises(ValueError, match="endpoint"):
        check_endpoint("Conversations")
    with pytest.raises(ValueError, match="message_type"):
        check_endpoint("conversations", "InMail")


# --- the read models ----------------------------------------------------------------------------


def test_since_accepts_aware_datetimes_and_iso_strings_only():
    moment = datetime(2026, 5, 6, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse_since(moment) == START
    assert parse_since("2026-05-06T09:00:00Z") == START
    assert parse_since("2026-05-06T11:00:00+02:00") == START
    for bad, words in [
        (datetime(2026, 5, 6), "no time zone"),
        ("2026-05-06T09:00:00", "no time zone"),
        ("yesterday", "not an ISO 8601 time"),
        (1700000000, "expected a datetime"),
    ]:
        with pytest.raises(errors.ConnectSafelyValidationError, match=words):
            parse_since(bad)


def test_read_queries_and_paths():
    read = ConversationMessagesRead(conversation_urn=f" {URN} ", since="2026-05-06T09:00:00.123456Z")
    assert read.path == "/linkedin/conversations/urn%3Ali%3Amsg_conversation%3A2-abc/messages"
    assert read.params("c1") == {"count": "100", "since": "2026-05-06T09:00:00.123Z", "cursor": "c1"}
    conversations = ConversationsRead(account_id="a" * 24, count=5, unread_only=True)
    assert conversations.path == "/linkedin/conversations"
    assert conversations.params("n") == {
        "count": "5",
        "accountId": "a" * 24,
        "unreadOnly": "true",
        "nextCursor": "n",
    }
    assert RecentMessagesRead().params(None) == {"count": "100"}
    for bad in (0, 101, "50", True):
        with pytest.raises(errors.ConnectSafelyValidationError, match="page_size"):
            RecentMessagesRead(count=bad)
    with pytest.raises(errors.ConnectSafelyValidationError, match="conversation_urn"):
        ConversationMessagesRead(conversation_urn="")
    with pytest.raises(errors.ConnectSafelyValidationError, match="account_id"):
        RecentMessagesRead(account_id="not an id")


def test_pages_are_parsed_defensively():
    read = RecentMessagesRead(since=START)
    assert read.items({"success": True}) == []
    assert read.items({"messages": None}) == []
    assert read.items("not an object") == []
    assert read.items({"messages": [{"text": "a", "extra": {"x": 1}}, "junk", 3]}) == [
        {"text": "a", "extra": {"x": 1}}
    ]
    assert read.items({"data": {"messages": [{"text": "b"}]}}) == [{"text": "b"}]
    assert read.items({"data": [{"text": "c"}]}) == [{"text": "c"}]
    assert next_cursor({"nextCursor": None}) is None
    assert next_cursor({"nextCursor": "  "}) is None
    assert next_cursor({}) is None
    assert next_cursor({"nextCursor": 7}) == "7"
    assert next_cursor({"data": {"nextCursor": "d"}}) == "d"
    assert next_cursor({"pagination": {"nextCursor": "p"}}) == "p"
    assert read.is_new({"sentAt": "2026-05-06T09:00:00.001Z"})
    assert not read.is_new({"sentAt": "2026-05-06T09:00:00Z"})  # strictly after
    assert read.is_new({"text": "no time"})
    assert read.is_new({"createdAt": (START + timedelta(seconds=1)).timestamp() * 1000})


def test_oldest_first_and_replies_grouped():
    read = RecentMessagesRead()
    listed = [  # newest first, as the API lists them
        {"text": "no time", "conversationUrn": "c2", "isSentByOwner": False},
        {"text": "r2", "sentAt": "2026-05-06T09:02:00Z", "conversationUrn": "c1", "isSentByOwner": False},
        {"text": "r1", "sentAt": "2026-05-06T09:01:00Z", "conversationUrn": "c2", "isSentByOwner": False},
        {"text": "mine", "sentAt": "2026-05-06T09:00:30Z", "conversationUrn": "c2", "isSentByOwner": True},
        {"text": "r0", "sentAt": "2026-05-06T09:00:00Z", "conversationUrn": "c1", "isSentByOwner": False},
        {"text": "no flag", "sentAt": "2026-05-06T08:00:00Z", "conversationUrn": "c1"},
    ]
    ordered = oldest_first(listed, read)
    assert [m["text"] for m in ordered] == ["no flag", "r0", "mine", "r1", "r2", "no time"]
    grouped = replies_by_conversation(ordered)
    assert list(grouped) == ["c1", "c2"]
    assert [m["text"] for m in grouped["c1"]] == ["r0", "r2"]
    assert [m["text"] for m in grouped["c2"]] == ["r1", "no time"]


# --- paging against a server that ignores `since` ------------------------------------------------


class FakePages:
    """Answers newest-first pages of 300 messages one second apart, ignoring ``since``."""

    def __init__(self, pages: list[dict[str, Any]] | None = None) -> None:
        self.calls: list[dict[str, str]] = []
        self.pages = pages

    def __call__(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        self.calls.append(params)
        if self.pages is not None:
            return self.pages[min(len(self.calls), len(self.pages)) - 1]
        start = int(params.get("nextCursor") or 0)
        count = int(params["count"])
        items = [
            {"messageUrn": f"m{n}", "sentAt": (START - timedelta(seconds=n)).isoformat()}
            for n in range(start, min(start + count, 300))
        ]
        return {"messages": items, "nextCursor": str(start + count) if start + count < 300 else None}


def client() -> ConnectSafelyClient:
    return ConnectSafelyClient(KEY, "http://127.0.0.1:9", retry_policy=RetryPolicy.never())


def test_paging_stops_at_the_first_message_older_than_since(monkeypatch):
    api = client()
    fake = FakePages()
    monkeypatch.setattr(api, "_read_page", fake)
    since = START - timedelta(seconds=150)
    found = api.recent_messages(RecentMessagesRead(since=since, count=50))
    assert [m["messageUrn"] for m in found] == [f"m{n}" for n in range(150)]
    assert len(fake.calls) == 4  # the 4th page reaches back past `since`
    fake.calls.clear()
    assert len(api.recent_messages(RecentMessagesRead(count=100))) == 300
    assert len(fake.calls) == 3


def test_paging_stops_on_a_repeated_cursor_and_drops_repeated_items(monkeypatch):
    api = client()
    page = {"messages": [{"messageUrn": "m1"}, {"messageUrn": "m1"}, {"text": "no id"}], "nextCursor": "same"}
    fake = FakePages([page])
    monkeypatch.setattr(api, "_read_page", fake)
    found = api.conversation_messages(ConversationMessagesRead(conversation_urn=URN))
    assert found == [{"messageUrn": "m1"}, {"text": "no id"}, {"text": "no id"}]
    assert len(fake.calls) == 2


# --- over loopback --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_key=KEY, clock=CLOCK) as emu:
        yield emu


@pytest.fixture
def emu(server: EmulatorServer) -> EmulatorServer:
    server.reset()
    CLOCK.set(START)
    return server


def fast_client(emu: EmulatorServer) -> ConnectSafelyClient:
    policy = RetryPolicy(handlers=(ReadFailureHandler(base=0.001, cap=0.001),))
    return ConnectSafelyClient(KEY, emu.url, retry_policy=policy, sleep=lambda _s: None)


def test_250_messages_take_three_calls_and_since_is_sent(emu: EmulatorServer):
    api = fast_client(emu)
    urn = api.send(build_send_request(endpoint="conversations", message="m0", recipient_profile_id="pat"))[
        "conversationUrn"
    ]
    for n in range(1, 250):
        CLOCK.advance(seconds=1)
        emu.reply(profile_id="pat", text=f"m{n}")
    found = api.conversation_messages(ConversationMessagesRead(conversation_urn=urn))
    assert [m["text"] for m in found] == [f"m{n}" for n in range(249, -1, -1)]
    assert emu.request_counts()[MESSAGES] == 3
    since = START + timedelta(seconds=200)
    later = api.conversation_messages(ConversationMessagesRead(conversation_urn=urn, since=since))
    assert [m["text"] for m in later] == [f"m{n}" for n in range(249, 200, -1)]
    assert emu.request_counts()[MESSAGES] == 4
    assert emu.requests()[-1]["query"]["since"] == "2026-05-06T09:03:20.000Z"


def test_a_failed_read_is_retried_and_a_refused_one_is_typed(emu: EmulatorServer):
    api = fast_client(emu)
    emu.inject("error", status=500, shape="empty")
    emu.inject("error", status=503, shape="html")
    assert api.recent_messages(RecentMessagesRead(since=START)) == []
    assert emu.request_counts()[RECENT] == 3
    emu.inject("error", status=502, count=5)
    with pytest.raises(errors.ReadFailedError, match="reading again is safe") as info:
        api.recent_messages(RecentMessagesRead(since=START))
    assert info.value.retryable is True and info.value.delivered is False
    assert info.value.status_code == 502
    assert emu.request_counts()[RECENT] == 3 + 4  # RetryPolicy's 4 attempts
    emu.clear_faults()
    emu.inject("success_false")
    with pytest.raises(errors.ConnectSafelyAPIError, match="refused the read"):
        api.recent_messages(RecentMessagesRead(since=START))
    with pytest.raises(errors.NotFoundError):
        api.conversation_messages(ConversationMessagesRead(conversation_urn="urn:li:msg_conversation:2-0"))
    assert emu.messages() == []
