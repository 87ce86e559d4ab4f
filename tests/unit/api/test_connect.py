"""Connection requests and relationships in the API layer: the request models and the
defensive parsing as pure logic, the client against the emulator over loopback. Time comes
from a ManualClock set to fixed values: nothing here depends on today's date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.api.client import ConnectSafelyClient
from airflow_provider_connectsafely.api.connect import (
    ConnectRequest,
    Relationship,
    RelationshipRead,
    check_note,
)
from airflow_provider_connectsafely.api.retry import (
    ConnectFailureHandler,
    RateLimitHandler,
    ReadFailureHandler,
    RetryPolicy,
)
from airflow_provider_connectsafely.emulator import EmulatorServer, ManualClock

KEY = "connect-client-key-8e2b"
# A Wednesday: the emulator's weekly limit resets on Monday 2026-06-08 00:00 UTC.
START = datetime(2026, 6, 3, 15, 30, tzinfo=timezone.utc)
NEXT_MONDAY = datetime(2026, 6, 8, tzinfo=timezone.utc)
CLOCK = ManualClock(START)
URN = "urn:li:fsd_profile:ACoAAB123"
CONNECT = "POST /linkedin/connect"
RELATIONSHIP = "GET /linkedin/relationship/{profileId}"


# --- the request model --------------------------------------------------------------------------


def test_connect_body_by_id_url_and_urn():
    by_url = ConnectRequest.build(
        recipient_profile_id="https://www.linkedin.com/in/jane-doe/?trk=x", note="  Hi Jane!  "
    )
    assert by_url.to_body() == {"profileId": "jane-doe", "customMessage": "Hi Jane!"}
    assert by_url.path == "/linkedin/connect" and by_url.recipient == "jane-doe"
    by_urn = ConnectRequest.build(recipient_profile_urn=URN, account_id="a" * 24)
    assert by_urn.to_body() == {"accountId": "a" * 24, "profileUrn": URN}
    assert by_urn.recipient == URN
    assert by_urn.with_default_account("b" * 24).account_id == "a" * 24
    no_note = ConnectRequest.build(recipient_profile_id="kim", note="   ")
    assert no_note.note is None and "customMessage" not in no_note.to_body()
    assert no_note.with_default_account("b" * 24).to_body() == {"accountId": "b" * 24, "profileId": "kim"}


def test_a_note_of_300_characters_passes_and_301_fails():
    assert check_note("n" * 300) == "n" * 300
    with pytest.raises(errors.ConnectSafelyValidationError) as info:
        ConnectRequest.build(recipient_profile_id="kim", note="n" * 301)
    assert info.value.field == "note"
    assert "301 characters, over LinkedIn's limit of 300" in str(info.value)
    assert "Fix: shorten the note to at most 300 characters" in str(info.value)


def test_an_emoji_counts_two_in_a_note():
    assert check_note("n" * 298 + "\U0001f44b") is not None  # 300 code units
    with pytest.raises(errors.ConnectSafelyValidationError, match=r"301 characters \(an emoji counts as 2\)"):
        check_note("n" * 299 + "\U0001f44b")


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({}, "recipient_profile_id", "no recipient given"),
        ({"recipient_profile_id": "kim", "recipient_profile_urn": URN}, "recipient_profile_id", "both"),
        ({"recipient_profile_urn": "ACoAAB123"}, "recipient_profile_urn", "urn:li:"),
        ({"recipient_profile_id": "https://example.com/in/kim"}, "recipient_profile_id", "profile URL"),
        ({"recipient_profile_id": "kim", "note": 42}, "note", "expected text"),
        ({"recipient_profile_id": "kim", "note": "bad \ud800"}, "note", "unpaired surrogate"),
        ({"recipient_profile_id": "kim", "account_id": "a b"}, "account_id", "not an account ID"),
    ],
)
def test_connect_validation_names_the_field_and_the_fix(fields: dict[str, Any], field: str, words: str):
    with pytest.raises(errors.ConnectSafelyValidationError) as info:
        ConnectRequest.build(**fields)
    assert info.value.field == field
    assert words in str(info.value) and "Fix:" in str(info.value)


def test_relationship_read_paths():
    assert RelationshipRead.build("https://www.linkedin.com/in/kim/").path == "/linkedin/relationship/kim"
    by_urn = RelationshipRead.build(URN, "a" * 24)
    assert by_urn.path == "/linkedin/relationship/urn%3Ali%3Afsd_profile%3AACoAAB123"
    assert by_urn.params() == {"accountId": "a" * 24}
    assert RelationshipRead.build("kim").params() == {}
    for bad, words in [(None, "no profile"), ("urn:li:", "not a LinkedIn URN"), ("a/b", "not a profile ID")]:
        with pytest.raises(errors.ConnectSafelyValidationError, match=words):
            RelationshipRead.build(bad)


# --- parsing a relationship ---------------------------------------------------------------------


def test_relationship_as_documented():
    answer = {
        "success": True,
        "connected": False,
        "invitationSent": True,
        "invitationReceived": False,
        "status": "pending",
        "profileUrn": URN,
        "accountId": "a" * 24,
        "somethingNew": [1, 2],
    }
    found = Relationship.parse(answer)
    assert (found.connected, found.invitation_sent, found.invitation_received) == (False, True, False)
    assert (found.status, found.profile_urn, found.account_id) == ("pending", URN, "a" * 24)
    assert found.raw == answer
    assert found.to_dict() == {
        "connected": False,
        "invitationSent": True,
        "invitationReceived": False,
        "status": "pending",
        "profileUrn": URN,
        "accountId": "a" * 24,
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # nested under data, flags as strings and numbers
        ({"success": True, "data": {"connected": "true", "invitationSent": 0}}, (True, False, False)),
        ({"relationship": {"connected": False, "invitationReceived": "YES"}}, (False, False, True)),
        # flags missing: the status stands in
        ({"status": "CONNECTED"}, (True, False, False)),
        ({"status": "pending"}, (False, True, False)),
        # a flag given wins over the status
        ({"status": "connected", "connected": False}, (False, False, False)),
        # unreadable values and shapes: nothing is assumed
        ({"connected": [True], "invitationSent": {"x": 1}, "status": 3}, (False, False, False)),
        ({"connected": None, "invitationSent": None}, (False, False, False)),
        ([], (False, False, False)),
        (None, (False, False, False)),
        ("<html>", (False, False, False)),
    ],
)
def test_relationship_is_parsed_defensively(body: Any, expected: tuple[bool, bool, bool]):
    found = Relationship.parse(body)
    assert (found.connected, found.invitation_sent, found.invitation_received) == expected


# --- the client against the emulator -----------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_key=KEY, clock=CLOCK, weekly_connect_limit=2) as emu:
        yield emu


@pytest.fixture
def emu(server: EmulatorServer) -> EmulatorServer:
    server.reset()
    CLOCK.set(START)
    return server


def client(emu: EmulatorServer, *, max_rate_limit_wait: float | None = None) -> ConnectSafelyClient:
    """A client with instant back-off. It sits out no 429 unless ``max_rate_limit_wait`` is
    given: the emulator's clock is fixed, so its reset times are not in the real future."""
    handlers: list[Any] = [
        ConnectFailureHandler(base=0.001, cap=0.001),
        ReadFailureHandler(base=0.001, cap=0.001),
    ]
    if max_rate_limit_wait is not None:
        handlers.append(RateLimitHandler(max_wait=max_rate_limit_wait))
    policy = RetryPolicy(handlers=tuple(handlers))
    return ConnectSafelyClient(KEY, emu.url, retry_policy=policy, sleep=lambda _s: None)


def test_connect_then_the_relationship_shows_it(emu: EmulatorServer):
    api = client(emu)
    assert api.get_relationship("pia").status == "none"
    answer = api.send_connection_request(ConnectRequest.build(recipient_profile_id="pia", note="Hi Pia"))
    assert answer["success"] is True and answer["invitationId"]
    assert answer["profileUrn"].startswith("urn:li:fsd_profile:")
    [_, sent, *_] = emu.requests()
    assert (sent["method"], sent["path"], sent["body"]) == (
        "POST",
        "/linkedin/connect",
        {"profileId": "pia", "customMessage": "Hi Pia"},
    )
    pending = api.get_relationship("pia")
    assert (pending.invitation_sent, pending.connected, pending.status) == (True, False, "pending")
    emu.accept_invitation("pia")
    by_urn = api.get_relationship(answer["profileUrn"], emu.state.accounts[0].id)
    assert (by_urn.connected, by_urn.invitation_sent, by_urn.profile_urn) == (
        True,
        False,
        answer["profileUrn"],
    )
    assert by_urn.account_id == emu.state.accounts[0].id
    assert emu.requests()[-1]["query"] == {"accountId": emu.state.accounts[0].id}
    # Another account knows nothing of it.
    assert api.get_relationship("pia", emu.state.accounts[1].id).status == "none"


def test_the_weekly_limit_answers_429_with_the_monday_hold(emu: EmulatorServer):
    api = client(emu)
    for person in ("w1", "w2"):
        api.send_connection_request(ConnectRequest.build(recipient_profile_id=person))
    with pytest.raises(errors.RateLimitError) as info:
        api.send_connection_request(ConnectRequest.build(recipient_profile_id="w3"))
    assert info.value.reset_at == NEXT_MONDAY
    assert info.value.delivered is False and info.value.retryable is True
    assert emu.request_counts()[CONNECT] == 3


def test_a_connect_that_may_have_gone_out_is_never_retried(emu: EmulatorServer):
    api = client(emu)
    emu.inject("error", status=500, shape="empty", deliver=True)
    with pytest.raises(errors.DeliveryUnknownError):
        api.send_connection_request(ConnectRequest.build(recipient_profile_id="una"))
    emu.inject("slow", delay=0.5)
    slow = ConnectSafelyClient(KEY, emu.url, timeout=0.1, sleep=lambda _s: None)
    with pytest.raises(errors.DeliveryUnknownError):
        slow.send_connection_request(ConnectRequest.build(recipient_profile_id="vic"))
    assert emu.request_counts()[CONNECT] == 2  # one attempt each


def test_a_connect_refused_before_sending_may_be_retried(emu: EmulatorServer):
    api = client(emu, max_rate_limit_wait=5)
    emu.inject("rate_limit_retry_after", seconds=1)
    answer = api.send_connection_request(ConnectRequest.build(recipient_profile_id="rae"))
    assert answer["success"] is True
    assert [r["status"] for r in emu.requests()] == [429, 200]


def test_a_failed_relationship_read_is_retried(emu: EmulatorServer):
    api = client(emu)
    emu.inject("error", status=502, shape="html")
    emu.inject("error", status=500, shape="empty")
    assert api.get_relationship("rex").status == "none"
    assert emu.request_counts()[RELATIONSHIP] == 3
    emu.inject("error", status=504, count=5)
    with pytest.raises(errors.ReadFailedError, match="reading again is safe"):
        api.get_relationship("rex")
    emu.clear_faults()
    with pytest.raises(errors.NotFoundError):
        api.get_relationship("unknown-rex")


def test_bad_input_is_refused_before_any_request(emu: EmulatorServer):
    api = client(emu)
    with pytest.raises(errors.ConnectSafelyValidationError, match="profile_id"):
        api.get_relationship("two words")
    with pytest.raises(errors.ConnectSafelyValidationError, match="account_id"):
        api.get_relationship("kim", "a/b")
    assert emu.requests() == []
