"""The hook's conversation sends and reply reads against the emulator over loopback (real
HTTP). Time comes from the emulator's ManualClock, set to fixed values: nothing here depends
on today's date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from helpers.connections import API_KEY, connection_json

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.api.retry import ReadFailureHandler, RetryPolicy
from airflow_provider_connectsafely.emulator import EmulatorServer, ManualClock
from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook

START = datetime(2026, 7, 1, 8, 0, tzinfo=timezone.utc)
CLOCK = ManualClock(START)
CONV_SEND = "POST /linkedin/conversations/send"
MESSAGES = "GET /linkedin/conversations/{conversationUrn}/messages"
RECENT = "GET /linkedin/messaging/recent-messages"


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_key=API_KEY, clock=CLOCK, daily_limit=400, thread_in_send_answers=True) as emu:
        yield emu


@pytest.fixture
def emu(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    server.reset()
    CLOCK.set(START)
    monkeypatch.setenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", connection_json(server.url))
    return server


def conversation_with(hook: ConnectSafelyHook, person: str, text: str = "Hello") -> str:
    answer = hook.send_message(message=text, recipient_profile_id=person, endpoint="conversations")
    return str(answer["conversationUrn"])


def test_send_by_recipient_then_by_conversation_urn(emu: EmulatorServer):
    hook = ConnectSafelyHook()
    first = hook.send_message(
        message="Hi Kim",
        recipient_profile_id="https://www.linkedin.com/in/kim/",
        endpoint="conversations",
        messaging_channel="linkedin_inbox",
        attachments=["https://example.com/deck.pdf"],
    )
    assert first["success"] is True
    assert first["conversationUrn"].startswith("urn:li:msg_conversation:")
    assert first["threadId"] and first["sentMessage"]["messageUrn"].startswith("urn:li:msg_message:")
    assert first["sentMessage"]["sentAt"] == "2026-07-01T08:00:00.000Z"
    CLOCK.advance(minutes=1)
    second = hook.send_message(
        message="Following up", conversation_urn=first["conversationUrn"], endpoint="conversations"
    )
    assert second["conversationUrn"] == first["conversationUrn"]
    assert second["sentMessage"]["messageUrn"] != first["sentMessage"]["messageUrn"]
    bodies = [r["body"] for r in emu.requests()]
    assert bodies == [
        {
            "recipientProfileId": "kim",
            "message": "Hi Kim",
            "attachments": ["https://example.com/deck.pdf"],
            "messagingChannel": "linkedin_inbox",
        },
        {"conversationUrn": first["conversationUrn"], "message": "Following up"},
    ]
    [conversation] = emu.conversations()
    assert [m["text"] for m in conversation["messages"]] == ["Hi Kim", "Following up"]
    # the default endpoint is unchanged (this emulator adds the thread to its answers)
    plain = hook.send_message(message="Old way", recipient_profile_id="kim")
    assert emu.requests()[-1]["path"] == "/linkedin/messaging/send"
    assert plain["conversationUrn"] == first["conversationUrn"]


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("send_message", {"message": "m", "recipient_profile_id": "a", "endpoint": "inbox"}, "endpoint"),
    (
        "send_message",
        {
            "message": "m",
            "recipient_profile_id": "a",
            "endpoint": "conversations",
            "messaging_channel": "sms",
        },
        "messaging_channel",
    ),
    ("send_message", {"message": "m", "conversation_urn": "urn:li:msg_conversation:2-a"}, "conversation_urn"),
    ("send_message", {"message": "m", "recipient_profile_id": "a", "attachments": ["x"]}, "attachments"),
    (
        "send_message",
        {"message": "m", "recipient_profile_id": "a", "endpoint": "conversations", "message_type": "inmail"},
        "message_type",
    ),
    ("get_conversation_messages", {"conversation_urn": "not-a-urn"}, "conversation_urn"),
    ("find_replies", {"conversation_urn": "urn:li:msg_conversation:2-a", "since": "last week"}, "since"),
    ("recent_messages", {"since": datetime(2026, 7, 1)}, "since"),
    ("recent_messages", {"since": START, "page_size": 101}, "page_size"),
    ("recent_replies", {"since": START, "account_id": "bad id"}, "account_id"),
]


@pytest.mark.parametrize(("method", "kwargs", "field"), BAD_CALLS, ids=[f"{m}-{f}" for m, _k, f in BAD_CALLS])
def test_bad_input_is_refused_before_any_request(emu: EmulatorServer, method, kwargs, field):
    hook = ConnectSafelyHook()
    hook.send_message(message="warm-up", recipient_profile_id="someone")
    before = emu.request_counts()
    kwargs = dict(kwargs)
    positional = (
        [kwargs.pop("conversation_urn")] if method in ("get_conversation_messages", "find_replies") else []
    )
    with pytest.raises(errors.ConnectSafelyValidationError) as info:
        getattr(hook, method)(*positional, **kwargs)
    assert info.value.field == field
    assert "Fix:" in str(info.value)
    assert emu.request_counts() == before


def test_messages_since_and_cursors(emu: EmulatorServer):
    hook = ConnectSafelyHook()
    urn = conversation_with(hook, "pat", "m0")
    for n in range(1, 250):
        CLOCK.advance(seconds=1)
        emu.reply(profile_id="pat", text=f"m{n}")
    messages = hook.get_conversation_messages(urn)
    assert [m["text"] for m in messages] == [f"m{n}" for n in range(250)]  # oldest first
    assert all(m["conversationUrn"] == urn for m in messages)
    assert emu.request_counts()[MESSAGES] == 3
    later = hook.get_conversation_messages(urn, since=(START + timedelta(seconds=240)).isoformat())
    assert [m["text"] for m in later] == [f"m{n}" for n in range(241, 250)]
    assert emu.request_counts()[MESSAGES] == 4


def test_find_replies_returns_only_the_other_persons_messages_after_since(emu: EmulatorServer):
    hook = ConnectSafelyHook()
    urn = conversation_with(hook, "bob", "Hi Bob")
    emu.reply(profile_id="bob", text="early reply", at=START + timedelta(minutes=1))
    since = START + timedelta(minutes=5)
    CLOCK.set(START + timedelta(minutes=10))
    hook.send_message(message="Any news?", conversation_urn=urn, endpoint="conversations")
    emu.reply(profile_id="bob", text="Yes!", at=START + timedelta(minutes=20))
    emu.reply(profile_id="bob", text="Call me", at=START + timedelta(minutes=21))
    emu.reply(profile_id="eve", text="someone else", at=START + timedelta(minutes=22))
    replies = hook.find_replies(urn, since=since)
    assert [m["text"] for m in replies] == ["Yes!", "Call me"]
    assert all(m["isSentByOwner"] is False and m["senderProfileId"] == "bob" for m in replies)
    assert hook.find_replies(urn, since=START + timedelta(minutes=21)) == []
    assert [m["text"] for m in hook.find_replies(urn, since="2026-07-01T08:00:00Z")] == [
        "early reply",
        "Yes!",
        "Call me",
    ]


def test_recent_replies_over_50_conversations_take_few_calls(emu: EmulatorServer):
    hook = ConnectSafelyHook()
    urns = {}
    for n in range(50):
        CLOCK.set(START + timedelta(seconds=n))
        urns[f"lead-{n}"] = conversation_with(hook, f"lead-{n}")
    since = START + timedelta(minutes=5)
    repliers = ["lead-3", "lead-17", "lead-17", "lead-40", "lead-49"]
    for minute, person in enumerate(repliers, start=10):
        emu.reply(
            profile_id=person, text=f"reply from {person} at {minute}", at=START + timedelta(minutes=minute)
        )
    CLOCK.set(START + timedelta(hours=1))
    hook.send_message(message="after the replies", conversation_urn=urns["lead-3"], endpoint="conversations")
    before = emu.request_counts()

    replies = hook.recent_replies(since=since)
    assert list(replies) == [urns["lead-3"], urns["lead-17"], urns["lead-40"], urns["lead-49"]]
    assert [m["text"] for m in replies[urns["lead-17"]]] == [
        "reply from lead-17 at 11",
        "reply from lead-17 at 12",
    ]
    recent = hook.recent_messages(since=since)
    assert [m["text"] for m in recent][-1] == "after the replies"
    assert all(m["conversationUrn"] in urns.values() for m in recent)
    counts = emu.request_counts()
    assert counts[RECENT] - before.get(RECENT, 0) == 2  # one call each, however many conversations
    assert counts.get(MESSAGES, 0) == 0
    # a short page size pages, and still stops at `since`
    assert len(hook.recent_messages(since=since, page_size=2)) == 6
    assert emu.request_counts()[RECENT] - counts[RECENT] == 3


def test_reads_use_the_connections_default_account(emu: EmulatorServer, monkeypatch):
    second = emu.state.accounts[1].id
    monkeypatch.setenv("AIRFLOW_CONN_CS_SECOND", connection_json(emu.url, account_id=second))
    hook = ConnectSafelyHook("cs_second")
    urn = conversation_with(hook, "ann")
    emu.reply(conversation_urn=urn, text="hello second", at=START + timedelta(minutes=1))
    assert [m["text"] for m in hook.find_replies(urn, since=START)] == ["hello second"]
    assert list(hook.recent_replies(since=START)) == [urn]
    assert hook.list_conversations()[0]["conversationUrn"] == urn
    assert {r["query"].get("accountId") for r in emu.requests() if r["method"] == "GET"} == {second}
    assert emu.messages()[0]["accountId"] == second
    assert ConnectSafelyHook().recent_replies(since=START) == {}  # the default account: nothing


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_5xx_on_a_conversation_send_is_unknown_and_not_retried(emu: EmulatorServer, status):
    emu.inject("error", status=status, deliver=True)
    with pytest.raises(errors.DeliveryUnknownError) as info:
        ConnectSafelyHook().send_message(message="m", recipient_profile_id="x", endpoint="conversations")
    assert info.value.delivered is None and info.value.retryable is False
    assert emu.request_counts() == {CONV_SEND: 1}


def test_a_503_on_a_conversation_send_was_not_delivered(emu: EmulatorServer):
    emu.inject("error", status=503, shape="html")
    with pytest.raises(errors.ServiceUnavailableError) as info:
        ConnectSafelyHook().send_message(message="m", recipient_profile_id="x", endpoint="conversations")
    assert info.value.delivered is False
    assert emu.messages() == []


def test_a_read_timeout_on_a_conversation_send_is_unknown(emu: EmulatorServer):
    emu.inject("slow", delay=1.5)
    with pytest.raises(errors.DeliveryUnknownError):
        ConnectSafelyHook(timeout=0.5).send_message(
            message="m", recipient_profile_id="x", endpoint="conversations"
        )
    assert emu.request_counts() == {CONV_SEND: 1}


def test_reads_are_retried_after_a_5xx(emu: EmulatorServer):
    policy = RetryPolicy(handlers=(ReadFailureHandler(base=0.001, cap=0.001),))
    hook = ConnectSafelyHook(retry_policy=policy)
    urn = conversation_with(hook, "rae")
    emu.inject("error", status=500, count=2)
    assert [m["text"] for m in hook.get_conversation_messages(urn)] == ["Hello"]
    assert emu.request_counts()[MESSAGES] == 3
