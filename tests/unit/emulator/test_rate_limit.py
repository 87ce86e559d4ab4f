"""The emulator's per-key request rate, over real HTTP on loopback, on a manual clock."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_connectsafely.emulator import EmulatorServer, ManualClock

KEY = "rate-key-2e8a"
SEND = "/linkedin/messaging/send"
ACCOUNTS = "/linkedin/accounts"
START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parents[3]
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Used", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def emu(clock: ManualClock) -> Iterator[EmulatorServer]:
    with EmulatorServer(api_key=KEY, clock=clock, rate_limit=3, rate_window=2, daily_limit=100) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    yield session
    session.close()


def send(http: requests.Session, emu: EmulatorServer, who: str = "kim", **kwargs: Any) -> requests.Response:
    body = {"recipientProfileId": who, "message": "Hi"}
    return http.post(emu.url + SEND, json=body, timeout=5, **kwargs)


def window(response: requests.Response) -> tuple[str, ...]:
    return tuple(response.headers.get(name, "") for name in RATE_HEADERS)


def test_requests_over_the_limit_answer_429_until_the_window_ends(
    emu: EmulatorServer, http: requests.Session, clock: ManualClock
) -> None:
    answers = [send(http, emu, f"p{n}") for n in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    reset = "2026-03-02T09:00:02.000Z"
    assert [window(a) for a in answers] == [
        ("3", "1", "2", reset),
        ("3", "2", "1", reset),
        ("3", "3", "0", reset),
    ]
    clock.advance(1.5)
    refused = send(http, emu, "p3")
    assert refused.status_code == 429
    assert window(refused) == ("3", "3", "0", reset)
    assert refused.headers["Retry-After"] == "1"  # 0.5 s, in whole seconds rounded up
    assert refused.json() == {
        "success": False,
        "error": f"Rate limit exceeded: 3 requests per 2 s. Resets at {reset}",
        "holdUntil": reset,
    }
    assert [m["recipientProfileId"] for m in emu.messages()] == ["p0", "p1", "p2"]
    assert [r["status"] for r in emu.requests()] == [200, 200, 200, 429]

    clock.advance(0.5)  # the window ends: a new one opens with the next request
    again = send(http, emu, "p3")
    assert again.status_code == 200
    assert window(again) == ("3", "1", "2", "2026-03-02T09:00:04.000Z")
    assert emu.rate_limit() == {
        "enabled": True,
        "limit": 3,
        "windowSeconds": 2.0,
        "used": 1,
        "remaining": 2,
        "resetsAt": "2026-03-02T09:00:04.000Z",
        "refused": 1,
    }


def test_every_endpoint_counts_and_answers_with_the_window(
    emu: EmulatorServer, http: requests.Session
) -> None:
    read = http.get(emu.url + ACCOUNTS, timeout=5)
    missing = http.get(emu.url + "/linkedin/nowhere", timeout=5)
    invalid = http.post(emu.url + SEND, json={"message": ""}, timeout=5)
    assert [r.status_code for r in (read, missing, invalid)] == [200, 404, 400]
    assert [window(r)[1:3] for r in (read, missing, invalid)] == [("1", "2"), ("2", "1"), ("3", "0")]
    assert http.get(emu.url + ACCOUNTS, timeout=5).status_code == 429


def test_the_request_rate_headers_replace_the_daily_quota_on_send_answers(
    http: requests.Session, clock: ManualClock
) -> None:
    with EmulatorServer(api_key=KEY, clock=clock, rate_limit=10, rate_window=60, daily_limit=1) as emu:
        sent = send(http, emu)
        assert window(sent) == ("10", "1", "9", "2026-03-02T09:01:00.000Z")
        over_quota = send(http, emu, "lee")
        assert over_quota.status_code == 429
        assert window(over_quota) == ("10", "2", "8", "2026-03-02T09:01:00.000Z")
        # The daily quota's own reset stays in the body, and it is the later one.
        assert over_quota.json()["holdUntil"] == "2026-03-03T00:00:00Z"
        assert "Retry-After" not in over_quota.headers
        assert emu.rate_limit()["refused"] == 0  # refused by the quota, not by the rate


def test_unix_reset_format_rounds_up(http: requests.Session, clock: ManualClock) -> None:
    clock.advance(0.3)
    with EmulatorServer(
        api_key=KEY, clock=clock, rate_limit=1, rate_window=1, rate_reset_format="unix"
    ) as emu:
        first = send(http, emu)
        ends = int((START + timedelta(seconds=2)).timestamp())  # 09:00:01.3, rounded up
        assert first.headers["X-RateLimit-Reset"] == str(ends)
        refused = send(http, emu)
        assert refused.headers["X-RateLimit-Reset"] == str(ends)
        assert refused.json()["holdUntil"] == "2026-03-02T09:00:01.300Z"  # always ISO 8601


def test_off_by_default(http: requests.Session) -> None:
    with EmulatorServer(api_key=KEY) as emu:
        answers = [http.get(emu.url + ACCOUNTS, timeout=5) for _ in range(70)]
        assert {a.status_code for a in answers} == {200}
        assert "X-RateLimit-Remaining" not in answers[0].headers
        assert send(http, emu).headers["X-RateLimit-Limit"] == "150"  # the daily quota, as before
        assert emu.rate_limit() == {"enabled": False, "refused": 0}
        assert requests.get(emu.url + "/_emulator/rate-limit", timeout=5).json() == emu.rate_limit()


def test_unauthorized_requests_do_not_count(emu: EmulatorServer, http: requests.Session) -> None:
    for _ in range(5):
        assert requests.get(emu.url + ACCOUNTS, timeout=5).status_code == 401
    assert emu.rate_limit()["used"] == 0
    assert http.get(emu.url + ACCOUNTS, timeout=5).headers["X-RateLimit-Used"] == "1"


def test_faults_count_keep_their_own_headers_and_are_not_used_up_by_a_refusal(
    emu: EmulatorServer, http: requests.Session
) -> None:
    emu.inject("rate_limit_reset_iso", seconds=30)
    faulted = send(http, emu)
    assert faulted.status_code == 429
    assert "X-RateLimit-Remaining" not in faulted.headers  # only the fault's own signal
    send(http, emu)
    send(http, emu)
    emu.inject("success_false")
    assert send(http, emu).status_code == 429  # refused by the rate
    assert emu.faults() != []  # ... without using the fault
    assert emu.rate_limit()["used"] == 3 and emu.rate_limit()["refused"] == 1


def test_reset_clears_the_window_and_the_refusals(emu: EmulatorServer, http: requests.Session) -> None:
    for _ in range(4):
        send(http, emu)
    assert emu.rate_limit()["refused"] == 1
    requests.post(emu.url + "/_emulator/reset", timeout=5)
    assert emu.rate_limit() == {
        "enabled": True,
        "limit": 3,
        "windowSeconds": 2.0,
        "used": 0,
        "remaining": 3,
        "resetsAt": None,
        "refused": 0,
    }
    assert send(http, emu).status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"rate_limit": 0}, "rate_limit"),
        ({"rate_limit": 2.5}, "rate_limit"),
        ({"rate_limit": 5, "rate_window": 0}, "rate_window"),
        ({"rate_limit": 5, "rate_window": float("inf")}, "rate_window"),
        ({"rate_limit": 5, "rate_reset_format": "http-date"}, "rate_reset_format"),
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        EmulatorServer(api_key=KEY, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_options() -> None:
    port = free_port()
    argv = [sys.executable, "-m", "airflow_provider_connectsafely.emulator", "--port", str(port)]
    argv += ["--api-key", KEY, "--rate-limit", "2", "--rate-window", "30", "--rate-reset-format", "unix"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "emulator did not print its ready line"
        url = proc.stdout.readline().split()[-1]
        headers = {"Authorization": f"Bearer {KEY}"}
        codes = [requests.get(url + ACCOUNTS, headers=headers, timeout=5) for _ in range(3)]
        assert [c.status_code for c in codes] == [200, 200, 429]
        assert codes[0].headers["X-RateLimit-Reset"].isdigit()
        status = requests.get(url + "/_emulator/rate-limit", timeout=5).json()
        assert (status["limit"], status["windowSeconds"], status["refused"]) == (2, 30.0, 1)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
