"""Tests of the local ConnectSafely emulator, over real HTTP on loopback."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_connectsafely.emulator import EmulatorServer, create_server

KEY = "test-key-5b1e9c"
SEND = "/linkedin/messaging/send"
TYPING = "/linkedin/messaging/send-with-typing"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_key=KEY, daily_limit=5) as emu:
        yield emu


@pytest.fixture
def emu(server: EmulatorServer) -> EmulatorServer:
    server.reset()
    return server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    yield session
    session.close()


def send(
    http: requests.Session, emu: EmulatorServer, body: Any = None, path: str = SEND, **kwargs: Any
) -> requests.Response:
    if body is None:
        body = {"recipientProfileId": "john-doe-123", "message": "Hello!"}
    return http.post(emu.url + path, json=body, timeout=kwargs.pop("timeout", 5), **kwargs)


def to(recipient: object, **fields: Any) -> dict[str, Any]:
    return {"recipientProfileId": recipient, "message": "m", **fields}


def expected_urn(profile_id: str) -> str:
    digest = base64.b32encode(hashlib.sha256(profile_id.encode()).digest()).decode()
    return "urn:li:fsd_profile:ACoAA" + digest[:20]


def next_midnight_iso(now: datetime) -> str:
    day = now.date() + timedelta(days=1)
    return f"{day.isoformat()}T00:00:00Z"


# --- basics and auth ---------------------------------------------------------------------------


def test_health_needs_no_auth(emu: EmulatorServer) -> None:
    response = requests.get(emu.url + "/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert emu.requests() == []  # only /linkedin/* is recorded


def test_url_and_port(emu: EmulatorServer) -> None:
    assert emu.port > 0
    assert emu.url == f"http://127.0.0.1:{emu.port}"
    assert emu.api_key == KEY


@pytest.mark.parametrize("auth", [None, "Bearer wrong-key", f"Basic {KEY}", KEY])
def test_missing_or_wrong_key_is_401_and_never_recorded(emu: EmulatorServer, auth: str | None) -> None:
    headers = {} if auth is None else {"Authorization": auth}
    body = {"recipientProfileId": "john-doe-123", "message": "Hello!"}
    response = requests.post(emu.url + SEND, json=body, headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": "Invalid or missing API key"}
    assert KEY not in response.text
    [record] = emu.requests()
    assert record["authorized"] is False
    assert record["status"] == 401
    assert record["delivered"] is False
    assert record["body"] == body
    assert "Authorization" not in record["headers"]
    assert emu.messages() == []
    assert KEY not in json.dumps(emu.requests())
    assert "wrong-key" not in json.dumps(emu.requests())


def test_key_never_recorded_on_success(emu: EmulatorServer, http: requests.Session) -> None:
    assert send(http, emu).status_code == 200
    assert http.get(emu.url + "/linkedin/accounts", timeout=5).status_code == 200
    assert len(emu.requests()) == 2
    dumped = json.dumps([emu.requests(), emu.messages()])
    assert KEY not in dumped
    assert "authorization" not in dumped.lower()


def test_unknown_routes_are_json_404(emu: EmulatorServer, http: requests.Session) -> None:
    for path in ("/nope", "/linkedin/nope"):
        response = http.get(emu.url + path, timeout=5)
        assert response.status_code == 404
        assert response.json()["success"] is False
    assert requests.get(emu.url + "/nope", timeout=5).status_code == 401
    assert http.get(emu.url + SEND, timeout=5).status_code == 405


# --- sending -----------------------------------------------------------------------------------


def test_send_success(emu: EmulatorServer, http: requests.Session) -> None:
    response = send(http, emu)
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "Message sent successfully",
        "recipientProfileUrn": expected_urn("john-doe-123"),
    }
    assert response.headers["X-RateLimit-Limit"] == "5"
    assert response.headers["X-RateLimit-Used"] == "1"
    assert response.headers["X-RateLimit-Remaining"] == "4"
    assert response.headers["X-RateLimit-Reset"] == next_midnight_iso(datetime.now(timezone.utc))
    [record] = emu.requests()
    assert record["seq"] == 1
    assert record["method"] == "POST"
    assert record["path"] == SEND
    assert record["status"] == 200
    assert record["delivered"] is True
    assert record["fault"] is None
    assert record["authorized"] is True
    assert record["headers"]["Content-Type"] == "application/json"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["at"])
    [message] = emu.messages()
    default_account = http.get(emu.url + "/linkedin/accounts", timeout=5).json()["accounts"][0]["id"]
    assert message == {
        "seq": 1,
        "endpoint": SEND,
        "accountId": default_account,
        "recipientProfileId": "john-doe-123",
        "recipientProfileUrn": expected_urn("john-doe-123"),
        "message": "Hello!",
        "subject": None,
        "messageType": "normal",
        "conversationUrn": None,
        "at": message["at"],
    }


def test_urn_is_deterministic_and_urn_is_echoed(emu: EmulatorServer, http: requests.Session) -> None:
    first = send(http, emu, {"recipientProfileId": "jane", "message": "a"}).json()["recipientProfileUrn"]
    second = send(http, emu, {"recipientProfileId": "jane", "message": "b"}).json()["recipientProfileUrn"]
    other = send(http, emu, {"recipientProfileId": "jim", "message": "c"}).json()["recipientProfileUrn"]
    assert first == second == expected_urn("jane")
    assert other != first
    assert re.fullmatch(r"urn:li:fsd_profile:ACoAA[A-Z2-7]{20}", first)
    urn = "urn:li:fsd_profile:ACoAABcdEFG"
    response = send(http, emu, {"recipientProfileUrn": urn, "message": "d"})
    assert response.status_code == 200
    assert response.json()["recipientProfileUrn"] == urn
    assert emu.messages()[-1]["recipientProfileId"] is None
    assert emu.messages()[-1]["recipientProfileUrn"] == urn


def test_send_inmail_with_subject(emu: EmulatorServer, http: requests.Session) -> None:
    body = {"recipientProfileId": "x", "message": "m", "subject": "S" * 200, "messageType": "inmail"}
    assert send(http, emu, body).status_code == 200
    [message] = emu.messages()
    assert message["subject"] == "S" * 200
    assert message["messageType"] == "inmail"


def test_send_with_typing(emu: EmulatorServer, http: requests.Session) -> None:
    body = {"recipientProfileId": "ann", "message": "hey", "conversationUrn": "urn:li:conv:1"}
    response = send(http, emu, body, TYPING)
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "Message sent successfully",
        "recipientProfileUrn": expected_urn("ann"),
        "typingIndicatorSent": True,
    }
    [message] = emu.messages()
    assert message["endpoint"] == TYPING
    assert message["conversationUrn"] == "urn:li:conv:1"
    # /send has no conversationUrn in its schema: ignored, neither validated nor recorded.
    plain = send(http, emu, {**body, "conversationUrn": 5})
    assert plain.status_code == 200
    assert "typingIndicatorSent" not in plain.json()
    assert emu.messages()[-1]["conversationUrn"] is None
    bad = send(http, emu, {**body, "conversationUrn": 5}, TYPING)
    assert bad.status_code == 400
    assert bad.json()["error"]["issues"][0]["path"] == ["conversationUrn"]


@pytest.mark.parametrize(
    ("raw", "recorded"), [(b"not json", "not json"), (b"[1, 2]", [1, 2]), (b'"text"', "text"), (b"", None)]
)
def test_body_not_a_json_object(
    emu: EmulatorServer, http: requests.Session, raw: bytes, recorded: Any
) -> None:
    response = http.post(emu.url + SEND, data=raw, headers={"Content-Type": "application/json"}, timeout=5)
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "validation_error"
    assert isinstance(body["message"], str)
    assert emu.requests()[0]["body"] == recorded


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"recipientProfileId": "a"}, [(["message"], "Required")]),
        (to("a", message=""), [(["message"], "String must contain at least 1 character(s)")]),
        ({"recipientProfileId": "a", "message": 3}, [(["message"], "Expected string, received number")]),
        (
            {"message": "hi"},
            [(["recipientProfileId"], "Either recipientProfileId or recipientProfileUrn must be provided")],
        ),
        (to(12), [(["recipientProfileId"], "Expected string, received number")]),
        (to("a", accountId=None), [(["accountId"], "Expected string, received null")]),
        (
            {"recipientProfileId": "a", "message": "hi", "messageType": "sms"},
            [(["messageType"], "Invalid enum value. Expected 'normal' | 'inmail', received 'sms'")],
        ),
        (
            {"recipientProfileId": "a", "message": "hi", "subject": "s" * 201},
            [(["subject"], "String must contain at most 200 character(s)")],
        ),
        (
            {},
            [
                (["message"], "Required"),
                (["recipientProfileId"], "Either recipientProfileId or recipientProfileUrn must be provided"),
            ],
        ),
    ],
)
def test_zod_validation(
    emu: EmulatorServer, http: requests.Session, body: dict[str, Any], expected: list[tuple[list[str], str]]
) -> None:
    response = send(http, emu, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["success"] is False
    assert payload["error"]["name"] == "ZodError"
    assert [(i["path"], i["message"]) for i in payload["error"]["issues"]] == expected
    assert emu.messages() == []
    assert emu.requests()[0]["delivered"] is False


def test_unknown_account_and_explicit_account(emu: EmulatorServer, http: requests.Session) -> None:
    response = send(http, emu, {"recipientProfileId": "a", "message": "m", "accountId": "f" * 24})
    assert response.status_code == 404
    assert response.json() == {"success": False, "error": "LinkedIn account not found"}
    second = http.get(emu.url + "/linkedin/accounts", timeout=5).json()["accounts"][1]["id"]
    assert send(http, emu, to("a", accountId=second)).status_code == 200
    assert [m["accountId"] for m in emu.messages()] == [second]


def test_unknown_recipient_convention(emu: EmulatorServer, http: requests.Session) -> None:
    response = send(http, emu, {"recipientProfileId": "unknown-bob", "message": "m"})
    assert response.status_code == 404
    assert response.json() == {"success": False, "error": "Recipient profile not found"}
    assert emu.messages() == []
    assert emu.requests()[0]["delivered"] is False
    status = http.get(emu.url + "/linkedin/account/status", timeout=5).json()
    assert status["messagesSentToday"] == 0


# --- accounts ----------------------------------------------------------------------------------


def test_accounts_default(emu: EmulatorServer, http: requests.Session) -> None:
    response = http.get(emu.url + "/linkedin/accounts", timeout=5)
    assert response.status_code == 200
    payload = response.json()
    assert payload["success"] is True
    accounts = payload["accounts"]
    assert len(accounts) == 2
    assert all(re.fullmatch(r"[0-9a-f]{24}", a["id"]) for a in accounts)
    assert [a["isDefault"] for a in accounts] == [True, False]
    assert all(a["status"] == "active" and a["name"] for a in accounts)
    assert accounts[0]["id"] != accounts[1]["id"]
    with EmulatorServer(api_key=KEY) as other:
        again = requests.get(other.url + "/linkedin/accounts", headers=http.headers, timeout=5).json()
    assert again["accounts"] == accounts  # deterministic
    [record] = emu.requests()
    assert (record["method"], record["path"], record["status"], record["delivered"]) == (
        "GET",
        "/linkedin/accounts",
        200,
        False,
    )


def test_accounts_configured_and_status(http: requests.Session) -> None:
    ids = ["a" * 24, "b" * 24, "c" * 24]
    with create_server(api_key=KEY, accounts=ids, daily_limit=7).start() as emu:
        accounts = http.get(emu.url + "/linkedin/accounts", timeout=5).json()["accounts"]
        assert [a["id"] for a in accounts] == ids
        assert [a["isDefault"] for a in accounts] == [True, False, False]
        assert send(http, emu, to("p", accountId=ids[1])).status_code == 200
        status = http.get(emu.url + "/linkedin/account/status", params={"accountId": ids[1]}, timeout=5)
        assert status.status_code == 200
        assert status.json()["accountId"] == ids[1]
        assert status.json()["status"] == "active"
        assert status.json()["isDefault"] is False
        assert status.json()["messagesSentToday"] == 1
        assert status.json()["messagesRemainingToday"] == 6
        assert emu.requests()[-1]["query"] == {"accountId": ids[1]}
        missing = http.get(emu.url + "/linkedin/account/status", params={"accountId": "d" * 24}, timeout=5)
        assert missing.status_code == 404
        assert missing.json() == {"success": False, "error": "LinkedIn account not found"}


# --- daily quota -------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_daily_quota(http: requests.Session) -> None:
    clock = FakeClock(datetime(2026, 3, 1, 23, 59, 30, tzinfo=timezone.utc))
    with EmulatorServer(api_key=KEY, daily_limit=2, clock=clock) as emu:
        used = [send(http, emu).headers["X-RateLimit-Used"] for _ in range(2)]
        assert used == ["1", "2"]
        refused = send(http, emu)
        assert refused.status_code == 429
        assert refused.json() == {
            "success": False,
            "error": "Daily message limit reached. Resets at 2026-03-02T00:00:00Z",
            "holdUntil": "2026-03-02T00:00:00Z",
        }
        assert refused.headers["X-RateLimit-Limit"] == "2"
        assert refused.headers["X-RateLimit-Used"] == "2"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert refused.headers["X-RateLimit-Reset"] == "2026-03-02T00:00:00Z"
        assert len(emu.messages()) == 2
        assert emu.requests()[-1]["delivered"] is False
        # quota is per account
        second = http.get(emu.url + "/linkedin/accounts", timeout=5).json()["accounts"][1]["id"]
        assert send(http, emu, to("a", accountId=second)).status_code == 200
        # over quota comes before the recipient lookup, like the real API
        assert send(http, emu, {"recipientProfileId": "unknown-x", "message": "m"}).status_code == 429
        clock.now = datetime(2026, 3, 2, 0, 0, 1, tzinfo=timezone.utc)
        fresh = send(http, emu)
        assert fresh.status_code == 200
        assert fresh.headers["X-RateLimit-Used"] == "1"
        assert fresh.headers["X-RateLimit-Reset"] == "2026-03-03T00:00:00Z"
        emu.reset()
        clock.now = datetime(2026, 3, 2, 0, 0, 2, tzinfo=timezone.utc)
        assert send(http, emu).headers["X-RateLimit-Used"] == "1"  # reset clears quotas


def test_zero_daily_limit_refuses_everything(http: requests.Session) -> None:
    with EmulatorServer(api_key=KEY, daily_limit=0) as emu:
        response = send(http, emu)
        assert response.status_code == 429
        assert response.json()["holdUntil"] == next_midnight_iso(datetime.now(timezone.utc))


# --- faults ------------------------------------------------------------------------------------


def test_fault_retry_after(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("rate_limit_retry_after", seconds=7)
    response = send(http, emu)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert "X-RateLimit-Reset" not in response.headers
    assert response.json()["success"] is False
    [record] = emu.requests()
    assert (record["status"], record["fault"], record["delivered"]) == (429, "rate_limit_retry_after", False)
    assert emu.messages() == []
    assert send(http, emu).status_code == 200  # the fault was used up
    assert http.get(emu.url + "/linkedin/account/status", timeout=5).json()["messagesSentToday"] == 1


def test_fault_reset_iso(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("rate_limit_reset_iso", seconds=60)
    before = datetime.now(timezone.utc)
    response = send(http, emu)
    assert response.status_code == 429
    reset = datetime.fromisoformat(response.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    assert timedelta(seconds=58) <= reset - before <= timedelta(seconds=62)
    assert "Retry-After" not in response.headers
    assert emu.messages() == []


def test_fault_reset_unix(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("rate_limit_reset_unix", seconds=30)
    before = time.time()
    response = send(http, emu)
    assert response.status_code == 429
    assert response.headers["X-RateLimit-Reset"].isdigit()
    assert 28 <= int(response.headers["X-RateLimit-Reset"]) - before <= 32
    assert emu.messages() == []


def test_fault_hold_until(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("rate_limit_hold_until", seconds=120)
    before = datetime.now(timezone.utc)
    response = send(http, emu)
    assert response.status_code == 429
    hold = response.json()["holdUntil"]
    assert hold.endswith("Z")
    delta = datetime.fromisoformat(hold.replace("Z", "+00:00")) - before
    assert timedelta(seconds=118) <= delta <= timedelta(seconds=122)
    assert response.json()["success"] is False
    assert emu.messages() == []


@pytest.mark.parametrize(
    ("shape", "status", "check"),
    [
        ("code", 500, lambda r: r.json() == {"success": False, "code": "internal_error", "message": "boom"}),
        ("error", 503, lambda r: r.json() == {"error": "boom"}),
        ("error_success_false", 500, lambda r: r.json() == {"success": False, "error": "boom"}),
        ("zod", 400, lambda r: r.json()["error"]["issues"][0]["path"] == ["message"]),
        ("error_details", 403, lambda r: r.json() == {"errorDetails": {"message": "boom"}}),
        ("html", 502, lambda r: r.headers["Content-Type"] == "text/html" and "502 Bad Gateway" in r.text),
        ("empty", 504, lambda r: r.content == b"" and r.headers["Content-Length"] == "0"),
    ],
)
def test_fault_error_shapes(
    emu: EmulatorServer, http: requests.Session, shape: str, status: int, check: Any
) -> None:
    emu.inject("error", status=status, shape=shape, message="boom")
    response = send(http, emu)
    assert response.status_code == status
    assert check(response)
    [record] = emu.requests()
    assert (record["status"], record["fault"], record["delivered"]) == (status, "error", False)
    assert emu.messages() == []


def test_fault_error_default_and_delivered(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("error")
    response = send(http, emu)
    assert response.status_code == 500
    assert response.json() == {"success": False, "error": "Internal Server Error"}
    emu.inject("error", status=502, shape="html", deliver=True)
    assert send(http, emu, {"recipientProfileId": "d", "message": "m"}).status_code == 502
    assert [r["delivered"] for r in emu.requests()] == [False, True]
    assert [m["recipientProfileId"] for m in emu.messages()] == ["d"]
    # a delivering fault still does not deliver an invalid request
    emu.inject("error", deliver=True)
    assert send(http, emu, {"message": "no recipient"}).status_code == 500
    assert emu.requests()[-1]["delivered"] is False


def test_fault_slow_delivers_while_client_times_out(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("slow", delay=1.0)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        send(http, emu, timeout=(2, 0.3))
    assert time.monotonic() - started < 0.9
    [record] = emu.requests()
    assert (record["status"], record["fault"], record["delivered"]) == (200, "slow", True)
    assert len(emu.messages()) == 1


def test_fault_slow_answers_late(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("slow", delay=0.3)
    started = time.monotonic()
    response = send(http, emu)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    emu.inject("slow", delay=0.1, deliver=False)
    assert send(http, emu).status_code == 504
    assert [r["delivered"] for r in emu.requests()] == [True, False]


def test_fault_reset_before_body(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("reset_before_body")
    with pytest.raises(requests.exceptions.ConnectionError):
        send(http, emu)
    [record] = emu.requests()
    assert (record["status"], record["fault"], record["delivered"], record["body"]) == (
        None,
        "reset_before_body",
        False,
        None,
    )
    assert emu.messages() == []
    assert send(http, emu).status_code == 200  # the session recovers on a new connection


@pytest.mark.parametrize("deliver", [True, False])
def test_fault_reset_after_body(emu: EmulatorServer, http: requests.Session, deliver: bool) -> None:
    emu.inject("reset_after_body", deliver=deliver)
    body = {"recipientProfileId": "r", "message": "m"}
    with pytest.raises(requests.exceptions.ConnectionError):
        send(http, emu, body)
    [record] = emu.requests()
    assert (record["status"], record["fault"], record["delivered"], record["body"]) == (
        None,
        "reset_after_body",
        deliver,
        body,
    )
    assert len(emu.messages()) == int(deliver)


@pytest.mark.parametrize("fault", ["reset_before_body", "reset_after_body"])
def test_reset_is_a_tcp_rst_not_a_close(emu: EmulatorServer, fault: str) -> None:
    emu.inject(fault)
    body = json.dumps(to("r")).encode()
    head = f"POST {SEND} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(head.encode() + body)
        with pytest.raises(ConnectionResetError):
            sock.recv(1024)  # a graceful close would return b"" instead


def test_fault_malformed_json(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("malformed_json")
    response = send(http, emu)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()
    assert emu.requests()[0]["delivered"] is True
    assert len(emu.messages()) == 1


def test_fault_success_false(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("success_false")
    response = send(http, emu)
    assert response.status_code == 200
    assert response.json() == {"success": False, "error": "LinkedIn rejected the message"}
    assert emu.requests()[0]["delivered"] is False
    assert emu.messages() == []


def test_fault_count_and_listing(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("error", count=2, status=503)
    listed = requests.get(emu.url + "/_emulator/faults", timeout=5).json()["faults"]
    assert listed == [
        {
            "fault": "error",
            "count": 2,
            "match": {},
            "params": {"status": 503, "shape": "error_success_false", "message": "", "deliver": False},
        }
    ]
    assert [send(http, emu).status_code for _ in range(3)] == [503, 503, 200]
    assert emu.faults() == []


def test_fault_match_by_recipient(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("error", status=500, match={"recipientProfileId": "target"})
    assert http.get(emu.url + "/linkedin/accounts", timeout=5).status_code == 200
    assert send(http, emu, {"recipientProfileId": "other", "message": "m"}).status_code == 200
    assert send(http, emu, {"recipientProfileId": "target", "message": "m"}).status_code == 500
    assert send(http, emu, {"recipientProfileId": "target", "message": "m"}).status_code == 200
    assert [r["fault"] for r in emu.requests()] == [None, None, "error", None]
    assert [m["recipientProfileId"] for m in emu.messages()] == ["other", "target"]


def test_fault_match_with_reset_before_body(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("reset_before_body", match={"recipientProfileId": "target"})
    assert send(http, emu, {"recipientProfileId": "other", "message": "m"}).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        send(http, emu, {"recipientProfileId": "target", "message": "m"})
    assert [(r["status"], r["delivered"]) for r in emu.requests()] == [(200, True), (None, False)]


def test_faults_hit_account_endpoints_not_health(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("error", status=502, shape="html")
    assert http.get(emu.url + "/health", timeout=5).status_code == 200
    assert http.get(emu.url + "/linkedin/accounts", timeout=5).status_code == 502
    assert emu.faults() == []


def test_unauthorized_request_does_not_consume_fault(emu: EmulatorServer, http: requests.Session) -> None:
    emu.inject("success_false")
    assert requests.post(emu.url + SEND, json={}, timeout=5).status_code == 401
    assert len(emu.faults()) == 1
    assert send(http, emu).json()["error"] == "LinkedIn rejected the message"


def test_fault_header(emu: EmulatorServer, http: requests.Session) -> None:
    headers = {"X-Emulator-Fault": "error", "X-Emulator-Fault-Status": "503"}
    headers["X-Emulator-Fault-Shape"] = "error"
    response = send(http, emu, headers=headers)
    assert response.status_code == 503
    assert response.json() == {"error": "Service Unavailable"}
    assert send(http, emu).status_code == 200  # one-off
    assert emu.requests()[0]["fault"] == "error"
    assert emu.requests()[0]["headers"]["X-Emulator-Fault"] == "error"
    bad = send(http, emu, headers={"X-Emulator-Fault": "no_such_fault"})
    assert bad.status_code == 400
    assert "no_such_fault" in bad.json()["message"]
    with pytest.raises(requests.exceptions.ConnectionError):
        send(http, emu, headers={"X-Emulator-Fault": "reset_after_body", "X-Emulator-Fault-Deliver": "false"})
    assert emu.requests()[-1]["delivered"] is False


@pytest.mark.parametrize(
    "payload",
    [
        {"fault": "nope"},
        {},
        {"fault": "error", "shape": "xml"},
        {"fault": "error", "status": 200},
        {"fault": "error", "colour": "red"},
        {"fault": "slow", "delay": "soon"},
        {"fault": "success_false", "count": 0},
        {"fault": "success_false", "match": ["x"]},
    ],
)
def test_admin_rejects_invalid_faults(emu: EmulatorServer, payload: dict[str, Any]) -> None:
    response = requests.post(emu.url + "/_emulator/faults", json=payload, timeout=5)
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert emu.faults() == []


# --- admin endpoints ---------------------------------------------------------------------------


def test_admin_endpoints(emu: EmulatorServer, http: requests.Session) -> None:
    admin = emu.url + "/_emulator"
    queued = requests.post(
        admin + "/faults",
        json={"fault": "rate_limit_retry_after", "seconds": 3, "match": {"recipientProfileId": "b"}},
        timeout=5,
    )
    assert queued.status_code == 200
    assert queued.json()["fault"] == {
        "fault": "rate_limit_retry_after",
        "count": 1,
        "match": {"recipientProfileId": "b"},
        "params": {"seconds": 3, "value": ""},
    }
    assert send(http, emu, {"recipientProfileId": "a", "message": "m"}).status_code == 200
    assert send(http, emu, {"recipientProfileId": "b", "message": "m"}).headers["Retry-After"] == "3"
    messages = requests.get(admin + "/messages", timeout=5).json()["messages"]
    assert messages == emu.messages()
    assert [m["recipientProfileId"] for m in messages] == ["a"]
    recorded = requests.get(admin + "/requests", timeout=5).json()["requests"]
    assert recorded == emu.requests()
    assert [r["status"] for r in recorded] == [200, 429]
    requests.post(admin + "/faults", json={"fault": "success_false", "count": 4}, timeout=5)
    cleared = requests.delete(admin + "/faults", timeout=5)
    assert cleared.json() == {"success": True, "cleared": 1}
    assert requests.get(admin + "/faults", timeout=5).json() == {"faults": []}
    requests.post(admin + "/faults", json={"fault": "success_false"}, timeout=5)
    assert requests.post(admin + "/reset", timeout=5).json() == {"success": True}
    assert emu.requests() == [] and emu.messages() == [] and emu.faults() == []
    response = send(http, emu)
    assert response.status_code == 200  # fault cleared, key kept
    assert response.headers["X-RateLimit-Used"] == "1"  # quota cleared
    assert emu.requests()[0]["seq"] == 1
    assert requests.get(admin + "/nothing", timeout=5).status_code == 404


def test_inject_validates(emu: EmulatorServer) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        emu.inject("meteor")
    with pytest.raises(ValueError, match="shape"):
        emu.inject("error", shape="pdf")
    assert emu.faults() == []


def test_keep_alive_reuses_connection(emu: EmulatorServer) -> None:
    conn = HTTPConnection("127.0.0.1", emu.port, timeout=5)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    sockets = []
    try:
        for path in (SEND, TYPING, SEND):
            conn.request("POST", path, body=json.dumps(to("k")), headers=headers)
            response = conn.getresponse()
            assert response.status == 200
            assert int(response.getheader("Content-Length") or -1) == len(response.read())
            sockets.append(conn.sock)
    finally:
        conn.close()
    assert sockets[0] is not None
    assert sockets[0] is sockets[1] is sockets[2]
    assert len(emu.messages()) == 3


# --- CLI ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("via_env", [False, True])
def test_cli(via_env: bool) -> None:
    port = free_port()
    key = "cli-secret-9d2f"
    argv = [sys.executable, "-m", "airflow_provider_connectsafely.emulator", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if k != "CONNECTSAFELY_EMULATOR_API_KEY"}
    if via_env:
        env["CONNECTSAFELY_EMULATOR_API_KEY"] = key
    else:
        argv += ["--api-key", key, "--daily-limit", "3"]
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "emulator did not print its ready line"
        line = proc.stdout.readline().strip()
        assert line == f"ConnectSafely emulator listening on http://127.0.0.1:{port}"
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        body = {"recipientProfileId": "cli-user", "message": "hi"}
        response = requests.post(url + SEND, json=body, headers=headers, timeout=5)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == ("150" if via_env else "3")
        assert requests.post(url + SEND, json=body, timeout=5).status_code == 401
        messages = requests.get(url + "/_emulator/messages", timeout=5).json()["messages"]
        assert [m["recipientProfileId"] for m in messages] == ["cli-user"]
        proc.send_signal(signal.SIGINT if via_env else signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert key not in out + err
    assert "Traceback" not in err


def test_cli_port_in_use() -> None:
    from airflow_provider_connectsafely.emulator.__main__ import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["--port", str(busy.getsockname()[1]), "--api-key", "x"]) == 2
