"""At-most-once delivery: ledger states, policies and the daily cap (fake send, real SQLite)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.api.models import MessageRequest
from airflow_provider_connectsafely.ledger import FAILED, SENT, UNKNOWN, NewSend
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.outreach.delivery import GuardedSender, WaitRequired

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=timezone.utc)


class FakeApi:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail_with: list[errors.ConnectSafelyError] = []

    def __call__(self, request: MessageRequest) -> dict:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(request.recipient)
        return {"success": True, "recipientProfileUrn": f"urn:li:fsd_profile:{request.recipient}"}


class FakeClock:
    """One settable clock shared by the ledger and the senders, as in production."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def store(tmp_path, clock):
    ledger = SendLedger.sqlite(tmp_path / "l.sqlite", clock=clock)
    yield ledger
    ledger.close()


def request(name: str = "ann") -> MessageRequest:
    return MessageRequest.build(message="hi", recipient_profile_id=name)


def spec(name: str = "ann", account: str = "acct") -> NewSend:
    return NewSend(f"key-{name}", account, name)


def sender(api, store, **kwargs) -> GuardedSender:
    return GuardedSender(api, store, **kwargs)


def test_sends_once_then_skips_with_the_recorded_answer(store):
    api = FakeApi()
    first = sender(api, store).send(request(), spec())
    second = sender(api, store).send(request(), spec())
    assert first.status == "sent" and second.status == "skipped"
    assert second.response == first.response
    assert "already sent" in second.reason
    assert api.sent == ["ann"]
    assert store.get("key-ann").state == SENT


def test_unknown_delivery_is_recorded_and_blocks_a_resend_by_default(store):
    api = FakeApi()
    api.fail_with.append(errors.DeliveryUnknownError("read timeout"))
    outcome = sender(api, store).send(request(), spec())
    assert outcome.status == "unknown"
    assert store.get("key-ann").state == UNKNOWN
    blocked = sender(api, store).send(request(), spec())
    assert blocked.status == "unknown"
    assert "settle" in blocked.reason and "on_unknown='resend'" in blocked.reason
    skipped = sender(api, store, on_unknown="skip").send(request(), spec())
    assert skipped.status == "unknown" and "on_unknown='skip'" in skipped.reason
    assert api.sent == []
    assert sender(api, store, on_unknown="resend").send(request(), spec()).status == "sent"
    assert api.sent == ["ann"]


def test_a_pending_row_from_a_crashed_try_is_treated_as_unknown(store):
    store.claim(spec())  # a try that died mid-send
    outcome = sender(FakeApi(), store).send(request(), spec())
    assert outcome.status == "unknown" and "still pending" in outcome.reason
    assert "connectsafely-ledger settle" in outcome.reason
    # ...and recorded so: the row no longer looks like a send in progress to other tasks
    row = store.get("key-ann")
    assert row.state == UNKNOWN and row.error.startswith("the try that claimed it stopped")
    assert not store.mark_abandoned("key-ann", row.attempts, "again")  # only a pending row


@pytest.mark.parametrize(
    "error",
    [
        errors.AuthenticationError(401, "bad key"),
        errors.NotFoundError(404, "nobody"),
        errors.ConnectionFailedError("refused"),
        errors.SendRejectedError(200, "rejected"),
    ],
)
def test_failures_that_prove_nothing_was_sent_may_be_retried(store, error):
    api = FakeApi()
    api.fail_with.append(error)
    failed = sender(api, store).send(request(), spec())
    assert failed.status == "failed" and failed.error is error
    entry = store.get("key-ann")
    assert entry.state == FAILED and entry.retryable and type(error).__name__ in entry.error
    assert sender(api, store).send(request(), spec()).status == "sent"


def test_invalid_on_unknown_policy():
    with pytest.raises(errors.ConnectSafelyValidationError, match="on_unknown"):
        GuardedSender(FakeApi(), None, on_unknown="retry")


def test_daily_cap_counts_the_ledger_and_names_the_reset(store, clock):
    api = FakeApi()
    guard = sender(api, store, daily_limit=2)
    guard.send(request("a"), spec("a"))
    guard.send(request("b"), spec("b"))
    with pytest.raises(WaitRequired) as info:
        guard.send(request("c"), spec("c"))
    assert info.value.reset_at == datetime(2026, 11, 27, tzinfo=timezone.utc)  # NOW's next midnight
    assert "Daily limit of 2" in info.value.reason
    assert api.sent == ["a", "b"]
    # Another account has its own cap; a new sender re-counts from the ledger.
    assert sender(api, store, daily_limit=2).send(request("c"), spec("c", account="other")).status == "sent"
    with pytest.raises(WaitRequired):
        sender(api, store, daily_limit=2).send(request("d"), spec("d"))
    # Already-sent keys are skipped even when the cap is reached.
    assert sender(api, store, daily_limit=2).send(request("a"), spec("a")).status == "skipped"
    # Tomorrow the cap is free again.
    clock.now = NOW + timedelta(days=1)
    assert sender(api, store, daily_limit=2).send(request("d"), spec("d")).status == "sent"


def test_no_cap_without_a_limit(store):
    api = FakeApi()
    guard = sender(api, store, daily_limit=0)
    for name in "abcde":
        guard.send(request(name), spec(name))
    assert len(api.sent) == 5


def test_rate_limit_asks_to_wait_and_leaves_the_key_claimable(store):
    api = FakeApi()
    reset = NOW + timedelta(hours=2)
    api.fail_with.append(errors.RateLimitError(429, "quota", 7200, reset))
    with pytest.raises(WaitRequired) as info:
        sender(api, store).send(request(), spec())
    assert info.value.reset_at == reset
    assert store.get("key-ann").state == FAILED
    assert sender(api, store).send(request(), spec()).status == "sent"


def test_without_a_ledger_it_just_sends(store):
    api = FakeApi()
    guard = GuardedSender(api, None)
    assert guard.send(request(), None).status == "sent"
    assert guard.send(request(), None).status == "sent"
    assert api.sent == ["ann", "ann"]


def test_a_fresh_claim_by_another_task_is_in_flight_not_unknown(store, clock):
    other = NewSend("key-ann", "acct", "ann", dag_id="d", task_id="other", run_id="r", map_index=-1)
    store.claim(other)
    mine = NewSend("key-ann", "acct", "ann", dag_id="d", task_id="mine", run_id="r", map_index=-1)
    fresh = sender(FakeApi(), store).send(request(), mine)
    assert fresh.status == "in_flight" and "another task (d/other/r)" in fresh.reason
    clock.now = NOW + timedelta(hours=1)
    stale = sender(FakeApi(), store).send(request(), mine)
    assert stale.status == "unknown" and "still pending" in stale.reason


def test_an_interrupted_send_is_recorded_unknown(store):
    def explode(request):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sender(explode, store).send(request(), spec())
    entry = store.get("key-ann")
    assert entry.state == UNKNOWN and "KeyboardInterrupt" in entry.error


def test_parallel_senders_share_the_cap(store):
    api = FakeApi()
    first, second = sender(api, store, daily_limit=3), sender(api, store, daily_limit=3)
    first.send(request("a"), spec("a"))
    second.send(request("b"), spec("b"))
    first.send(request("c"), spec("c"))
    for guard, name in ((second, "d"), (first, "e")):
        with pytest.raises(WaitRequired):
            guard.send(request(name), spec(name))
    assert api.sent == ["a", "b", "c"]


def test_a_far_rate_limit_waits_even_without_a_ledger():
    api = FakeApi()
    api.fail_with.append(errors.RateLimitError(429, "quota", 7200, NOW + timedelta(hours=2)))
    with pytest.raises(WaitRequired):
        GuardedSender(api, None).send(request(), None)


def test_a_refusing_account_is_recorded_unavailable_for_the_page(store, clock):
    from airflow_provider_connectsafely.ledger import account_status

    api = FakeApi()
    api.fail_with = [errors.PermissionDeniedError(403, "account restricted")]
    outcome = sender(api, store).send(request("ann"), spec("ann", account="acct-9"))
    assert outcome.stops_batch
    [(account, (reason, since, _seen))] = account_status.unavailable(store).items()
    assert (account, since) == ("acct-9", NOW)
    assert "PermissionDeniedError" in reason and "403" in reason
    sender(FakeApi(), store).send(request("bo"), spec("bo", account="acct-1"))
    assert list(account_status.unavailable(store)) == ["acct-9"]
