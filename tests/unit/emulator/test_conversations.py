"""Conversations, replies, message reads and connection requests in the emulator, over real
HTTP on loopback. Time comes from a ManualClock set to fixed values: nothing here depends on
today's date, and nothing sleeps."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest
import requests

from airflow_provider_connectsafely.emulator import EmulatorServer, ManualClock

KEY = "conversations-key-81c2"
START = datetime(2026, 3, 4, 10, 0, 0, tzinfo=timezone.utc)  # a Wednesday
NEXT_MONDAY = "2026-03-09T00:00:00Z"
SEND = "/linkedin/messaging/send"
TYPING = "/linkedin/messaging/send-with-typing"
CONV_SEND = "/linkedin/conversations/send"
CONVERSATIONS = "/linkedin/conversations"
RECENT = "/linkedin/messaging/recent-messages"
CONNECT = "/linkedin/connect"
URN_PATTERN = r"urn:li:msg_conversation:2-[0-9a-f]{32}"
CLOCK = ManualClock(START)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_key=KEY, daily_limit=400, clock=CLOCK, weekly_connect_limit=3) as emu:
        yield emu


@pytest.fixture
def emu(server: EmulatorServer) -> EmulatorServer:
    server.reset()
    CLOCK.set(START)
    return server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    yield session
    session.close()


def post(http: requests.Session, emu: EmulatorServer, path: str, body: Any) -> requests.Response:
    return http.post(emu.url + path, json=body, timeout=5)


def get(http: requests.Session, emu: EmulatorServer, path: str, **params: Any) -> requests.Response:
    return http.get(emu.url + path, params=params, timeout=5)


def messages_path(conversation_urn: str) -> str:
    return f"/linkedin/conversations/{quote(conversation_urn, safe='')}/messages"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def default_account(emu: EmulatorServer) -> str:
    return emu.state.accounts[0].id


# --- conversations from sends ------------------------------------------------------------------


def test_send_creates_a_conversation_and_a_second_send_extends_it(
    emu: EmulatorServer, http: requests.Session
) -> None:
    first = post(http, emu, SEND, {"recipientProfileId": "jane", "message": "Hello Jane"})
    assert first.status_code == 200
    assert "conversationUrn" not in first.json()  # the documented answer, unless opted in
    [conversation] = get(http, emu, CONVERSATIONS).json()["conversations"]
    assert re.fullmatch(URN_PATTERN, conversation["conversationUrn"])
    assert conversation["conversationUrn"] == "urn:li:msg_conversation:" + conversation["threadId"]
    assert conversation["participants"] == ["jane"]
    assert conversation["recipientProfileUrn"] == first.json()["recipientProfileUrn"]
    assert conversation["lastActivityAt"] == iso(START)
    assert conversation["unreadCount"] == 0

    CLOCK.advance(minutes=5)
    body = {"recipientProfileId": "jane", "message": "Still there?", "conversationUrn": "urn:li:x:1"}
    assert post(http, emu, TYPING, body).status_code == 200
    [again] = get(http, emu, CONVERSATIONS).json()["conversations"]
    assert again["conversationUrn"] == conversation["conversationUrn"]
    assert again["lastActivityAt"] == iso(START + timedelta(minutes=5))
    assert again["lastMessage"]["text"] == "Still there?"

    page = get(http, emu, messages_path(again["conversationUrn"])).json()
    assert page["success"] is True and page["nextCursor"] is None
    newest, oldest = page["messages"]
    assert (newest["text"], oldest["text"]) == ("Still there?", "Hello Jane")
    assert (newest["sentAt"], oldest["sentAt"]) == (iso(START + timedelta(minutes=5)), iso(START))
    for message in page["messages"]:
        assert message["isSentByOwner"] is True
        assert message["senderProfileId"] == default_account(emu)
        assert message["conversationUrn"] == again["conversationUrn"]
        assert message["messageUrn"].startswith("urn:li:msg_message:")
    assert newest["messageUrn"] != oldest["messageUrn"]
    # another recipient, another conversation; the same scenario gives the same URNs
    post(http, emu, SEND, {"recipientProfileId": "jim", "message": "Hi Jim"})
    assert len(emu.conversations()) == 2
    urns = [c["conversationUrn"] for c in emu.conversations()]
    emu.reset()
    post(http, emu, SEND, {"recipientProfileId": "jane", "message": "Hello Jane"})
    assert emu.conversations()[0]["conversationUrn"] == urns[0]


def test_send_answers_carry_the_thread_when_opted_in(http: requests.Session) -> None:
    with EmulatorServer(api_key=KEY, clock=ManualClock(START), thread_in_send_answers=True) as emu:
        answer = post(http, emu, SEND, {"recipientProfileId": "ann", "message": "m"}).json()
        typed = post(http, emu, TYPING, {"recipientProfileId": "ann", "message": "n"}).json()
        [conversation] = emu.conversations()
        assert answer["conversationUrn"] == typed["conversationUrn"] == conversation["conversationUrn"]
        assert answer["threadId"] == typed["threadId"] == conversation["threadId"]
        assert typed["typingIndicatorSent"] is True


def test_conversations_send_by_recipient_then_by_conversation_urn(
    emu: EmulatorServer, http: requests.Session
) -> None:
    body = {"recipientProfileId": "kim", "message": "First", "messagingChannel": "linkedin_inbox"}
    first = post(http, emu, CONV_SEND, body)
    assert first.status_code == 200
    answer = first.json()
    assert set(answer) == {
        "success",
        "message",
        "recipientProfileUrn",
        "threadId",
        "conversationUrn",
        "sentMessage",
    }
    assert answer["success"] is True and answer["message"] == "Message sent successfully"
    assert re.fullmatch(URN_PATTERN, answer["conversationUrn"])
    assert answer["sentMessage"]["text"] == "First"
    assert answer["sentMessage"]["sentAt"] == iso(START)
    assert first.headers["X-RateLimit-Used"] == "1"

    CLOCK.advance(seconds=30)
    by_urn = {"conversationUrn": answer["conversationUrn"], "message": "Second", "attachments": []}
    second = post(http, emu, CONV_SEND, by_urn)
    assert second.status_code == 200
    assert second.json()["conversationUrn"] == answer["conversationUrn"]
    assert second.json()["recipientProfileUrn"] == answer["recipientProfileUrn"]
    assert second.json()["sentMessage"]["messageUrn"] != answer["sentMessage"]["messageUrn"]
    assert second.headers["X-RateLimit-Used"] == "2"  # the same daily quota as the other sends
    assert (
        post(http, emu, SEND, {"recipientProfileId": "kim", "message": "Third"}).headers["X-RateLimit-Used"]
        == "3"
    )
    [conversation] = emu.conversations()
    assert [m["text"] for m in conversation["messages"]] == ["First", "Second", "Third"]
    assert [m["endpoint"] for m in emu.messages()] == [CONV_SEND, CONV_SEND, SEND]
    assert emu.messages()[1]["recipientProfileId"] == "kim"
    assert emu.messages()[1]["conversationUrn"] == answer["conversationUrn"]

    unknown = post(http, emu, CONV_SEND, {"conversationUrn": "urn:li:msg_conversation:2-0", "message": "m"})
    assert unknown.status_code == 404
    assert unknown.json() == {"success": False, "error": "Conversation not found"}
    other_account = emu.state.accounts[1].id
    foreign = post(http, emu, CONV_SEND, {**by_urn, "accountId": other_account})
    assert foreign.status_code == 404
    assert len(emu.messages()) == 3


def test_conversations_send_over_quota(http: requests.Session) -> None:
    with EmulatorServer(api_key=KEY, daily_limit=1, clock=ManualClock(START)) as emu:
        assert post(http, emu, SEND, {"recipientProfileId": "a", "message": "m"}).status_code == 200
        refused = post(http, emu, CONV_SEND, {"recipientProfileId": "b", "message": "m"})
        assert refused.status_code == 429
        assert refused.json()["holdUntil"] == "2026-03-05T00:00:00Z"
        assert len(emu.conversations()) == 1


def test_faults_target_conversations_send(emu: EmulatorServer, http: requests.Session) -> None:
    urn = post(http, emu, CONV_SEND, {"recipientProfileId": "lee", "message": "a"}).json()["conversationUrn"]
    emu.inject("error", status=503, match={"conversationUrn": urn})
    assert post(http, emu, CONV_SEND, {"recipientProfileId": "lee", "message": "b"}).status_code == 200
    assert post(http, emu, CONV_SEND, {"conversationUrn": urn, "message": "c"}).status_code == 503
    headers = {"X-Emulator-Fault": "rate_limit_hold_until", "X-Emulator-Fault-Seconds": "60"}
    held = http.post(
        emu.url + CONV_SEND, json={"conversationUrn": urn, "message": "d"}, headers=headers, timeout=5
    )
    assert held.status_code == 429
    assert held.json()["holdUntil"] == "2026-03-04T10:01:00Z"
    assert [m["text"] for m in emu.conversations()[0]["messages"]] == ["a", "b"]
    assert [r["fault"] for r in emu.requests()] == [None, None, "error", "rate_limit_hold_until"]


# --- replies, unread, since --------------------------------------------------------------------


def test_replies_are_not_sent_by_owner_and_unread_until_answered(
    emu: EmulatorServer, http: requests.Session
) -> None:
    urn = post(http, emu, CONV_SEND, {"recipientProfileId": "bob", "message": "Hi Bob"}).json()[
        "conversationUrn"
    ]
    CLOCK.advance(hours=1)
    reply = emu.reply(profile_id="bob", text="Hi yourself")
    assert reply["isSentByOwner"] is False
    assert reply["senderProfileId"] == "bob"
    assert reply["conversationUrn"] == urn
    assert reply["sentAt"] == iso(START + timedelta(hours=1))
    at = START + timedelta(hours=2)
    answer = requests.post(
        emu.url + "/_emulator/reply",
        json={"conversationUrn": urn, "text": "Hello?", "at": iso(at)},
        timeout=5,
    )
    assert answer.status_code == 200
    assert answer.json()["message"]["sentAt"] == iso(at)

    messages = get(http, emu, messages_path(urn)).json()["messages"]
    assert [(m["text"], m["isSentByOwner"]) for m in messages] == [
        ("Hello?", False),
        ("Hi yourself", False),
        ("Hi Bob", True),
    ]
    [conversation] = get(http, emu, CONVERSATIONS, unreadOnly="true").json()["conversations"]
    assert conversation["unreadCount"] == 2
    assert conversation["lastMessage"]["text"] == "Hello?"
    post(http, emu, CONV_SEND, {"conversationUrn": urn, "message": "Sorry, here now"})
    assert get(http, emu, CONVERSATIONS, unreadOnly="true").json()["conversations"] == []
    assert get(http, emu, CONVERSATIONS).json()["conversations"][0]["unreadCount"] == 0

    # a reply from someone never written to starts a conversation with the default account
    started = emu.reply(profile_id="eve", text="We have not met")
    assert started["conversationUrn"] != urn
    assert [c["participants"] for c in emu.conversations()] == [["bob"], ["eve"]]


def test_reply_errors(emu: EmulatorServer) -> None:
    admin = emu.url + "/_emulator/reply"
    assert requests.post(admin, json={"profileId": "x"}, timeout=5).status_code == 400
    assert requests.post(admin, json={"text": "t"}, timeout=5).status_code == 400
    assert (
        requests.post(admin, json={"profileId": "x", "text": "t", "at": "soon"}, timeout=5).status_code == 400
    )
    missing = requests.post(
        admin, json={"conversationUrn": "urn:li:msg_conversation:2-0", "text": "t"}, timeout=5
    )
    assert missing.status_code == 404
    assert (
        requests.post(
            admin, json={"profileId": "x", "text": "t", "accountId": "f" * 24}, timeout=5
        ).status_code
        == 404
    )
    with pytest.raises(LookupError):
        emu.reply(conversation_urn="urn:li:msg_conversation:2-0", text="t")
    assert emu.conversations() == []


def test_since_keeps_only_later_messages(emu: EmulatorServer, http: requests.Session) -> None:
    for minute in range(3):
        CLOCK.set(START + timedelta(minutes=minute))
        post(http, emu, SEND, {"recipientProfileId": "sam", "message": f"m{minute}"})
    emu.reply(profile_id="sam", text="r", at=START + timedelta(minutes=3))
    urn = emu.conversations()[0]["conversationUrn"]
    since = iso(START + timedelta(minutes=1))  # equal to m1's sentAt: strictly after excludes it
    page = get(http, emu, messages_path(urn), since=since).json()
    assert [m["text"] for m in page["messages"]] == ["r", "m2"]
    recent = get(http, emu, RECENT, since=since).json()
    assert [m["text"] for m in recent["messages"]] == ["r", "m2"]
    offset = get(http, emu, messages_path(urn), since="2026-03-04T11:01:30+01:00").json()
    assert [m["text"] for m in offset["messages"]] == ["r", "m2"]
    assert (
        get(http, emu, messages_path(urn), since=iso(START + timedelta(minutes=3))).json()["messages"] == []
    )
    bad = get(http, emu, messages_path(urn), since="yesterday")
    assert bad.status_code == 400
    assert bad.json()["code"] == "validation_error"


# --- paging ------------------------------------------------------------------------------------


def test_cursor_pages_through_250_messages(emu: EmulatorServer, http: requests.Session) -> None:
    urn = post(http, emu, CONV_SEND, {"recipientProfileId": "pat", "message": "text 0"}).json()[
        "conversationUrn"
    ]
    for n in range(1, 250):
        CLOCK.advance(seconds=1)
        emu.reply(profile_id="pat", text=f"text {n}")
    CLOCK.advance(seconds=1)
    seen: list[str] = []
    cursor = None
    calls = 0
    while True:
        params = {"count": 100, **({"cursor": cursor} if cursor else {})}
        page = get(http, emu, messages_path(urn), **params).json()
        calls += 1
        seen += [m["text"] for m in page["messages"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
        # a message arriving between pages does not shift the next page
        emu.reply(profile_id="pat", text=f"late {calls}")
    assert calls == 3
    assert seen == [f"text {n}" for n in range(249, -1, -1)]
    counts = emu.request_counts()
    assert counts["GET /linkedin/conversations/{conversationUrn}/messages"] == 3
    default = get(http, emu, messages_path(urn)).json()
    assert len(default["messages"]) == 20 and default["nextCursor"] is not None


def test_page_parameter_errors(emu: EmulatorServer, http: requests.Session) -> None:
    urn = post(http, emu, CONV_SEND, {"recipientProfileId": "q", "message": "m"}).json()["conversationUrn"]
    for params in ({"count": 101}, {"count": 0}, {"count": "ten"}, {"cursor": "not-a-cursor"}):
        response = get(http, emu, messages_path(urn), **params)
        assert response.status_code == 400, params
        assert response.json()["code"] == "validation_error"
    assert get(http, emu, CONVERSATIONS, count=101).status_code == 400
    assert get(http, emu, CONVERSATIONS, unreadOnly="maybe").status_code == 400
    assert get(http, emu, RECENT, nextCursor="zzz").status_code == 400
    assert get(http, emu, messages_path("urn:li:msg_conversation:2-0")).status_code == 404
    assert get(http, emu, messages_path(urn), accountId=emu.state.accounts[1].id).status_code == 404
    assert get(http, emu, CONVERSATIONS, accountId="f" * 24).status_code == 404
    unencoded = get(http, emu, f"/linkedin/conversations/{urn}/messages")  # colons need no escaping
    assert unencoded.status_code == 200


def test_conversation_list_newest_activity_first_and_paged(
    emu: EmulatorServer, http: requests.Session
) -> None:
    for n, person in enumerate(("p1", "p2", "p3")):
        CLOCK.set(START + timedelta(minutes=n))
        post(http, emu, SEND, {"recipientProfileId": person, "message": "hi"})
    emu.reply(profile_id="p1", text="back", at=START + timedelta(minutes=10))
    first = get(http, emu, CONVERSATIONS, count=2).json()
    assert [c["participants"] for c in first["conversations"]] == [["p1"], ["p3"]]
    assert first["conversations"][0]["lastActivityAt"] == iso(START + timedelta(minutes=10))
    rest = get(http, emu, CONVERSATIONS, count=2, nextCursor=first["nextCursor"]).json()
    assert [c["participants"] for c in rest["conversations"]] == [["p2"]]
    assert rest["nextCursor"] is None


def test_recent_messages_across_conversations(emu: EmulatorServer, http: requests.Session) -> None:
    second_account = emu.state.accounts[1].id
    CLOCK.set(START)
    post(http, emu, SEND, {"recipientProfileId": "ada", "message": "to ada"})
    CLOCK.set(START + timedelta(minutes=1))
    post(http, emu, CONV_SEND, {"recipientProfileId": "bea", "message": "to bea"})
    emu.reply(profile_id="ada", text="from ada", at=START + timedelta(minutes=2))
    post(
        http,
        emu,
        SEND,
        {"recipientProfileId": "ada", "message": "other account", "accountId": second_account},
    )
    first = get(http, emu, RECENT, count=2).json()
    assert first["success"] is True
    assert [m["text"] for m in first["messages"]] == ["from ada", "to bea"]
    urns = {
        c["participants"][0]: c["conversationUrn"]
        for c in emu.conversations()
        if c["accountId"] != second_account
    }
    assert [m["conversationUrn"] for m in first["messages"]] == [urns["ada"], urns["bea"]]
    rest = get(http, emu, RECENT, count=2, nextCursor=first["nextCursor"]).json()
    assert [m["text"] for m in rest["messages"]] == ["to ada"]
    assert rest["nextCursor"] is None
    other = get(http, emu, RECENT, accountId=second_account).json()["messages"]
    assert [m["text"] for m in other] == ["other account"]
    assert other[0]["conversationUrn"] not in urns.values()


# --- request counts ----------------------------------------------------------------------------


def test_request_counts_per_endpoint(emu: EmulatorServer, http: requests.Session) -> None:
    urn = post(http, emu, CONV_SEND, {"recipientProfileId": "cy", "message": "m"}).json()["conversationUrn"]
    get(http, emu, CONVERSATIONS)
    get(http, emu, CONVERSATIONS, count=500)  # refused, still counted
    get(http, emu, messages_path(urn))
    get(http, emu, "/linkedin/relationship/cy")
    requests.get(emu.url + CONVERSATIONS, timeout=5)  # 401, still counted
    expected = {
        "POST /linkedin/conversations/send": 1,
        "GET /linkedin/conversations": 3,
        "GET /linkedin/conversations/{conversationUrn}/messages": 1,
        "GET /linkedin/relationship/{profileId}": 1,
    }
    assert emu.request_counts() == expected
    assert requests.get(emu.url + "/_emulator/counts", timeout=5).json() == expected
    assert requests.post(emu.url + "/_emulator/reset", timeout=5).json() == {"success": True}
    assert emu.request_counts() == {} and emu.conversations() == []


# --- connection requests -----------------------------------------------------------------------


def relationship(http: requests.Session, emu: EmulatorServer, profile: str, **params: Any) -> dict[str, Any]:
    response = get(http, emu, f"/linkedin/relationship/{quote(profile, safe='')}", **params)
    assert response.status_code == 200
    return response.json()


def test_connect_and_relationship_before_and_after_accept(
    emu: EmulatorServer, http: requests.Session
) -> None:
    before = relationship(http, emu, "dana")
    assert before == {
        "success": True,
        "connected": False,
        "invitationSent": False,
        "invitationReceived": False,
        "status": "none",
        "profileUrn": before["profileUrn"],
        "accountId": default_account(emu),
    }
    sent = post(http, emu, CONNECT, {"profileId": "dana", "customMessage": "n" * 300})
    assert sent.status_code == 200
    assert sent.json() == {
        "success": True,
        "invitationId": sent.json()["invitationId"],
        "profileUrn": before["profileUrn"],
    }
    pending = relationship(http, emu, "dana")
    assert (pending["status"], pending["invitationSent"], pending["connected"]) == ("pending", True, False)
    again = post(http, emu, CONNECT, {"profileId": "dana"})
    assert (again.status_code, again.json()) == (
        400,
        {"success": False, "error": "Invitation already pending"},
    )
    # the other account is not concerned
    assert relationship(http, emu, "dana", accountId=emu.state.accounts[1].id)["status"] == "none"

    accepted = emu.accept_invitation("dana")
    assert accepted["accepted"] is True and accepted["invitationId"] == sent.json()["invitationId"]
    after = relationship(http, emu, before["profileUrn"])  # by URN too
    assert (after["status"], after["connected"], after["invitationSent"]) == ("connected", True, False)
    connected = post(http, emu, CONNECT, {"profileUrn": before["profileUrn"]})
    assert (connected.status_code, connected.json()) == (
        400,
        {"success": False, "error": "Already connected"},
    )

    # the same over the control endpoint
    post(http, emu, CONNECT, {"profileId": "eli"})
    accept = requests.post(emu.url + "/_emulator/accept", json={"profileId": "eli"}, timeout=5)
    assert accept.status_code == 200 and accept.json()["invitation"]["accepted"] is True
    assert relationship(http, emu, "eli")["connected"] is True
    assert (
        requests.post(emu.url + "/_emulator/accept", json={"profileId": "eli"}, timeout=5).status_code == 404
    )
    with pytest.raises(LookupError):
        emu.accept_invitation("nobody")
    # messaging never depended on it
    assert post(http, emu, SEND, {"recipientProfileId": "stranger", "message": "m"}).status_code == 200


def test_weekly_connect_limit(emu: EmulatorServer, http: requests.Session) -> None:
    for n in range(3):
        response = post(http, emu, CONNECT, {"profileId": f"w{n}"})
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Used"] == str(n + 1)
    refused = post(http, emu, CONNECT, {"profileId": "w3"})
    assert refused.status_code == 429
    assert refused.json() == {
        "success": False,
        "error": f"Weekly connection request limit reached. Resets at {NEXT_MONDAY}",
        "holdUntil": NEXT_MONDAY,
    }
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Reset"] == NEXT_MONDAY
    assert relationship(http, emu, "w3")["status"] == "none"
    # the limit is per account
    assert (
        post(http, emu, CONNECT, {"profileId": "w3", "accountId": emu.state.accounts[1].id}).status_code
        == 200
    )
    CLOCK.set(datetime(2026, 3, 8, 23, 59, 59, tzinfo=timezone.utc))  # Sunday: same week
    assert post(http, emu, CONNECT, {"profileId": "w3"}).status_code == 429
    CLOCK.set(datetime(2026, 3, 9, 0, 0, 0, tzinfo=timezone.utc))  # Monday 00:00 UTC: a new week
    fresh = post(http, emu, CONNECT, {"profileId": "w3"})
    assert fresh.status_code == 200
    assert fresh.headers["X-RateLimit-Reset"] == "2026-03-16T00:00:00Z"


def test_configured_connections(http: requests.Session) -> None:
    with EmulatorServer(api_key=KEY, clock=ManualClock(START), connected=["carol"]) as emu:
        assert relationship(http, emu, "carol")["status"] == "connected"
        assert post(http, emu, CONNECT, {"profileId": "carol"}).json()["error"] == "Already connected"
        emu.reset()  # configuration survives a reset
        assert relationship(http, emu, "carol")["connected"] is True


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field", "text"),
    [
        (
            CONV_SEND,
            {"recipientProfileId": "a", "message": "m", "messagingChannel": "email"},
            "messagingChannel",
            "Invalid enum value. Expected 'auto' | 'sales_navigator' | 'linkedin_inbox', received 'email'",
        ),
        (
            CONV_SEND,
            {"message": "m"},
            "recipientProfileId",
            "Either recipientProfileId, recipientProfileUrn or conversationUrn must be provided",
        ),
        (CONV_SEND, {"recipientProfileId": "a"}, "message", "Required"),
        (
            CONV_SEND,
            {"recipientProfileId": "a", "message": "m", "attachments": "x"},
            "attachments",
            "Expected array, received string",
        ),
        (
            CONNECT,
            {"profileId": "a", "customMessage": "n" * 301},
            "customMessage",
            "String must contain at most 300 character(s)",
        ),
        (CONNECT, {"customMessage": "hi"}, "profileId", "Either profileId or profileUrn must be provided"),
    ],
)
def test_validation_errors(
    emu: EmulatorServer, http: requests.Session, path: str, body: dict[str, Any], field: str, text: str
) -> None:
    response = post(http, emu, path, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["success"] is False
    assert payload["error"]["name"] == "ZodError"
    assert [(i["path"], i["message"]) for i in payload["error"]["issues"]] == [([field], text)]
    assert emu.messages() == [] and emu.conversations() == []
    assert relationship(http, emu, "a")["status"] == "none"


def test_unknown_profiles_and_accounts(emu: EmulatorServer, http: requests.Session) -> None:
    assert post(http, emu, CONV_SEND, {"recipientProfileId": "unknown-x", "message": "m"}).status_code == 404
    assert post(http, emu, CONNECT, {"profileId": "unknown-x"}).status_code == 404
    assert get(http, emu, "/linkedin/relationship/unknown-x").status_code == 404
    assert post(http, emu, CONNECT, {"profileId": "a", "accountId": "f" * 24}).status_code == 404
    assert post(http, emu, CONV_SEND, "not json").status_code == 400
    assert http.get(emu.url + CONV_SEND, timeout=5).status_code == 405
    assert emu.conversations() == []


def test_an_account_in_error_refuses_to_send_and_lists_its_status(
    emu: EmulatorServer, http: requests.Session
) -> None:
    broken, healthy = (a.id for a in emu.state.accounts)
    emu.set_account_status(broken, "ERROR")
    try:
        listed = {a["id"]: a["status"] for a in get(http, emu, "/linkedin/accounts").json()["accounts"]}
        assert listed == {broken: "ERROR", healthy: "active"}
        assert get(http, emu, "/linkedin/account/status", accountId=broken).json()["status"] == "ERROR"
        refused = post(http, emu, SEND, {"recipientProfileId": "ann", "message": "m", "accountId": broken})
        assert refused.status_code == 403 and "not available (status ERROR)" in refused.json()["error"]
        assert post(http, emu, SEND, {"recipientProfileId": "ann", "message": "m", "accountId": healthy}).ok
        assert emu.messages()[-1]["accountId"] == healthy and len(emu.messages()) == 1
    finally:
        requests.post(
            emu.url + "/_emulator/account", json={"accountId": broken, "status": "active"}, timeout=5
        )
    assert post(http, emu, SEND, {"recipientProfileId": "bo", "message": "m", "accountId": broken}).ok
