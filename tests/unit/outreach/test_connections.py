"""Connection requests at most once, within the weekly cap, skipping people already connected
or invited (fake API, real SQLite ledger, a fixed clock)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.api.connect import ConnectRequest, Relationship
from airflow_provider_connectsafely.ledger.records import CONNECT, FAILED, SENT, NewSend
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.outreach import caps
from airflow_provider_connectsafely.outreach.connections import (
    ConnectSender,
    connect_key,
    skip_reason,
)
from airflow_provider_connectsafely.outreach.delivery import WaitRequired

# Sunday 2026-06-14 23:00 UTC; the next week starts Monday 2026-06-15 00:00 UTC.
SUNDAY_NIGHT = datetime(2026, 6, 14, 23, 0, tzinfo=timezone.utc)
NEXT_MONDAY = datetime(2026, 6, 15, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakeApi:
    """Records connection requests; relationships are set per person."""

    def __init__(self) -> None:
        self.invited: list[str] = []
        self.looked_up: list[tuple[str, str | None]] = []
        self.relationships: dict[str, Relationship] = {}
        self.fail_with: list[errors.ConnectSafelyError] = []
        self.lookup_fails_with: errors.ConnectSafelyError | None = None

    def __call__(self, request: ConnectRequest) -> dict:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.invited.append(request.recipient)
        return {
            "success": True,
            "invitationId": str(len(self.invited)),
            "profileUrn": f"urn:li:x:{request.recipient}",
        }

    def relationship(self, person: str, account: str | None) -> Relationship:
        self.looked_up.append((person, account))
        if self.lookup_fails_with is not None:
            raise self.lookup_fails_with
        return self.relationships.get(person, Relationship(status="none"))


@pytest.fixture(autouse=True)
def no_testing_window(monkeypatch):
    monkeypatch.delenv(caps.TESTING_CAP_WINDOW_ENV, raising=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(SUNDAY_NIGHT)


@pytest.fixture
def store(tmp_path, clock):
    ledger = SendLedger.sqlite(tmp_path / "l.sqlite", clock=clock)
    yield ledger
    ledger.close()


def request(name: str = "ann", account: str | None = None) -> ConnectRequest:
    return ConnectRequest.build(recipient_profile_id=name, note="Hi", account_id=account)


def spec(req: ConnectRequest) -> NewSend:
    return NewSend(connect_key(req), req.account_id or "default", req.recipient, kind=CONNECT)


def sender(api: FakeApi, store: SendLedger, **kwargs) -> ConnectSender:
    kwargs.setdefault("relationship", api.relationship)
    return ConnectSender(api, store, **kwargs)


def test_the_default_key_is_per_account_and_person():
    assert connect_key(request("Ann")) == "connect:default:ann"
    assert connect_key(request("ann", "a" * 24)) == f"connect:{'a' * 24}:ann"
    urn = ConnectRequest.build(recipient_profile_urn="urn:li:fsd_profile:ACoAAB")
    assert connect_key(urn) == "connect:default:urn:li:fsd_profile:ACoAAB"


def test_sends_once_then_skips_with_the_recorded_answer_and_no_request(store):
    api = FakeApi()
    first = sender(api, store).send(request(), spec(request()))
    assert first.status == "sent" and first.response == {
        "success": True,
        "invitationId": "1",
        "profileUrn": "urn:li:x:ann",
    }
    row = store.get("connect:default:ann")
    assert (row.state, row.kind) == (SENT, CONNECT)
    again = sender(api, store).send(request(), spec(request()))
    assert again.status == "skipped" and again.response == first.response
    assert "already sent" in again.reason
    assert api.invited == ["ann"]
    assert api.looked_up == [("ann", None)]  # the second try settled on the ledger alone


@pytest.mark.parametrize(
    ("relationship", "words"),
    [
        (Relationship(connected=True, status="connected"), "already connected"),
        (Relationship(invitation_sent=True, status="pending"), "already pending"),
        (Relationship(invitation_received=True), "has already invited this account"),
    ],
)
def test_people_connected_or_invited_are_skipped_and_nothing_is_claimed(store, relationship, words):
    api = FakeApi()
    api.relationships["ann"] = relationship
    outcome = sender(api, store).send(request(), spec(request()))
    assert outcome.status == "skipped" and words in outcome.reason
    assert outcome.response == relationship.to_dict()
    assert api.invited == [] and store.get("connect:default:ann") is None


def test_without_the_check_the_relationship_is_not_read(store):
    api = FakeApi()
    api.relationships["ann"] = Relationship(connected=True)
    outcome = sender(api, store, relationship=None).send(request(), spec(request()))
    assert outcome.status == "sent" and api.looked_up == []


def test_skip_reason_for_a_stranger_is_none():
    assert skip_reason(Relationship(status="none")) is None


def test_weekly_cap_counts_only_this_weeks_connect_rows_of_the_account(store, clock):
    api = FakeApi()
    # A message row, a connect row of another account, and last week's connect row do not count.
    message = NewSend("message-key", "default", "ann")
    store.mark_sent("message-key", store.claim(message).token, {})
    other = request("bob", "b" * 24)
    sender(api, store).send(other, spec(other))
    clock.now = SUNDAY_NIGHT - timedelta(days=7)
    sender(api, store).send(request("old"), spec(request("old")))
    clock.now = SUNDAY_NIGHT
    capped = sender(api, store, weekly_limit=2)
    assert capped.send(request("cy"), spec(request("cy"))).status == "sent"
    assert capped.send(request("di"), spec(request("di"))).status == "sent"
    with pytest.raises(WaitRequired) as info:
        capped.send(request("ed"), spec(request("ed")))
    assert info.value.reset_at == NEXT_MONDAY
    assert "Weekly limit of 2 connection requests reached for LinkedIn account 'default'" in info.value.reason
    assert store.get("connect:default:ed") is None
    # The next week (Monday 00:00 UTC) has room again.
    clock.now = NEXT_MONDAY
    assert capped.send(request("ed"), spec(request("ed"))).status == "sent"
    assert api.invited == ["bob", "old", "cy", "di", "ed"]


def test_a_settled_or_connected_person_is_skipped_even_at_the_cap(store):
    api = FakeApi()
    capped = sender(api, store, weekly_limit=1)
    capped.send(request("ann"), spec(request("ann")))
    assert capped.send(request("ann"), spec(request("ann"))).status == "skipped"
    api.relationships["bo"] = Relationship(connected=True)
    assert capped.send(request("bo"), spec(request("bo"))).status == "skipped"
    with pytest.raises(WaitRequired):
        capped.send(request("cy"), spec(request("cy")))


def test_a_429_hold_waits_and_leaves_the_key_claimable(store, clock):
    api = FakeApi()
    hold = SUNDAY_NIGHT + timedelta(hours=24)
    api.fail_with.append(errors.RateLimitError(429, "on hold", 86400.0, hold))
    with pytest.raises(WaitRequired) as info:
        sender(api, store).send(request(), spec(request()))
    assert info.value.reset_at == hold and "RateLimitError" in info.value.reason
    row = store.get("connect:default:ann")
    assert (row.state, row.retryable, row.may_send_again) == (FAILED, True, True)
    clock.now = hold + timedelta(seconds=1)
    resumed = sender(api, store).send(request(), spec(request()))
    assert resumed.status == "sent" and store.get("connect:default:ann").attempts == 2


def test_a_rate_limited_relationship_read_waits(store, clock):
    api = FakeApi()
    api.lookup_fails_with = errors.RateLimitError(429, "slow down", None, None)
    with pytest.raises(WaitRequired) as info:
        sender(api, store).send(request(), spec(request()))
    assert info.value.reset_at == SUNDAY_NIGHT + timedelta(seconds=60)
    assert api.invited == [] and store.get("connect:default:ann") is None


def test_an_unknown_outcome_is_recorded_and_blocks_a_second_request(store):
    api = FakeApi()
    api.fail_with.append(errors.DeliveryUnknownError("read timeout"))
    assert sender(api, store).send(request(), spec(request())).status == "unknown"
    again = sender(api, store).send(request(), spec(request()))
    assert again.status == "unknown" and "may have been delivered" in again.reason
    assert api.invited == []
