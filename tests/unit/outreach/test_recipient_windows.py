"""Sending windows per recipient, and how the batch loop and a sequence run hold those
outside theirs (a settable clock, a fake API, a real SQLite ledger; no Airflow)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_connectsafely.api.models import MessageRequest
from airflow_provider_connectsafely.errors import ConnectSafelyValidationError
from airflow_provider_connectsafely.ledger.sequences import SequenceStore
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.outreach.batch import BatchRun, prepare_items
from airflow_provider_connectsafely.outreach.delivery import GuardedSender
from airflow_provider_connectsafely.outreach.recipient_windows import RecipientWindows, WindowClosed
from airflow_provider_connectsafely.outreach.sequence import SequenceRun
from airflow_provider_connectsafely.outreach.steps import SequenceStep
from airflow_provider_connectsafely.outreach.windows import SendWindow

UTC = timezone.utc
# Monday 2026-06-01 08:45 UTC: 10:45 in Berlin (open), 04:45 in New York, 17:45 in Tokyo.
MONDAY = datetime(2026, 6, 1, 8, 45, tzinfo=UTC)
OFFICE = "Mon-Fri 09:00-17:30"


class Clock:
    def __init__(self, now: datetime = MONDAY) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakeApi:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, request: MessageRequest) -> dict:
        self.sent.append(request.recipient)
        who = request.recipient
        return {"success": True, "conversationUrn": f"urn:li:msg_conversation:{who}"}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    ledger = SendLedger.sqlite(tmp_path / "l.sqlite", clock=clock)
    yield ledger
    ledger.close()


def policy(clock, window=OFFICE, timezone="Europe/Berlin", field="timezone") -> RecipientWindows:
    return RecipientWindows.build(window, timezone, field, clock)


def rows(**zones: str | None) -> list[dict]:
    return [{"recipient_profile_id": who, "timezone": tz} for who, tz in zones.items()]


def items(data: list[dict]):
    return prepare_items(data, lambda row: (f"Hi {row['recipient_profile_id']}", None), campaign="c")


# -- the policy ---------------------------------------------------------------------------


def test_build_checks_the_window_and_the_time_zone(clock):
    with pytest.raises(ConnectSafelyValidationError, match=r"Invalid `send_window`: .*Fix: "):
        RecipientWindows.build("weekdays", "UTC")
    with pytest.raises(ConnectSafelyValidationError, match=r"Invalid `timezone`: 'Berlin' is not an IANA"):
        RecipientWindows.build(OFFICE, "Berlin")
    assert RecipientWindows.build(OFFICE, None).timezone == "UTC"
    assert RecipientWindows.build(OFFICE, " Asia/Tokyo ", "").timezone_field is None


def test_each_recipient_is_read_on_their_own_clock_or_the_default(clock):
    windows = policy(clock)
    assert windows.timezone_of({"timezone": "America/New_York"}) == "America/New_York"
    assert windows.timezone_of({"timezone": None}) == "Europe/Berlin"
    assert windows.timezone_of({"timezone": "  "}) == "Europe/Berlin"
    assert windows.timezone_of({}) == "Europe/Berlin"
    assert policy(clock, field=None).timezone_of({"timezone": "Asia/Tokyo"}) == "Europe/Berlin"
    assert windows.opens_at("Europe/Berlin") is None  # Monday 10:45
    assert windows.opens_at("America/New_York") == datetime(2026, 6, 1, 13, tzinfo=UTC)  # 09:00 EDT
    assert windows.opens_at("Asia/Tokyo") == datetime(2026, 6, 2, 0, tzinfo=UTC)  # Tuesday 09:00 JST


def test_the_answer_follows_the_clock(clock):
    windows = policy(clock)
    assert windows.opens_at("America/New_York") is not None
    clock.now = datetime(2026, 6, 1, 13, tzinfo=UTC)
    assert windows.opens_at("America/New_York") is None
    clock.now = datetime(2026, 6, 1, 21, 30, tzinfo=UTC)  # 17:30 EDT: closed again
    assert windows.opens_at("America/New_York") == datetime(2026, 6, 2, 13, tzinfo=UTC)


def test_a_bad_time_zone_in_a_row_fails_that_recipient_only(clock):
    batch = items(rows(ann="Europe/Berlin", bob="Mars/Olympus", cy=None, dee=7))  # type: ignore[arg-type]
    policy(clock).screen(batch)
    assert [i.request is not None for i in batch] == [True, False, True, False]
    assert str(batch[1].error).startswith("Invalid `recipients[1].timezone`: 'Mars/Olympus' is not an IANA")
    assert "recipients[3].timezone" in str(batch[3].error)


def test_check_raises_the_wait_with_the_local_opening(clock):
    windows = policy(clock)
    windows.check("Europe/Berlin")
    with pytest.raises(WindowClosed) as info:
        windows.check("America/New_York")
    assert info.value.reset_at == datetime(2026, 6, 1, 13, tzinfo=UTC)
    assert info.value.reason == (
        "The send window 'Mon-Fri 09:00-17:30' is closed for 1 recipient(s): 1 in America/New_York "
        "(opens Mon 2026-06-01T09:00:00-04:00)"
    )


def test_the_wait_for_many_ends_when_the_first_window_opens(clock):
    wait = policy(clock).closed(["Asia/Tokyo", "America/New_York", "Asia/Tokyo"])
    assert wait.reset_at == datetime(2026, 6, 1, 13, tzinfo=UTC)
    assert "closed for 3 recipient(s): 1 in America/New_York (opens Mon" in wait.reason
    assert "2 in Asia/Tokyo (opens Tue 2026-06-02T09:00:00+09:00)" in wait.reason


# -- the batch loop -----------------------------------------------------------------------


def test_a_batch_sends_to_the_open_ones_then_waits_for_the_rest(store, clock):
    api = FakeApi()
    batch = items(rows(ann="Europe/Berlin", bob="America/New_York", cy=None, dee="Asia/Tokyo"))

    def run():
        return BatchRun(
            GuardedSender(api, store, daily_limit=0), run=("d", "t", "r", -1), windows=policy(clock)
        )

    with pytest.raises(WindowClosed) as info:
        run().send_all(batch, store.get_many(i.key for i in batch if i.key))
    assert api.sent == ["ann", "cy"]
    assert info.value.reset_at == datetime(2026, 6, 1, 13, tzinfo=UTC)
    # Resumed when New York opens: Tokyo (Monday 22:00 there) still waits.
    clock.now = datetime(2026, 6, 1, 13, 0, 1, tzinfo=UTC)
    with pytest.raises(WindowClosed) as info:
        run().send_all(batch, store.get_many(i.key for i in batch if i.key))
    assert api.sent == ["ann", "cy", "bob"]
    assert info.value.reset_at == datetime(2026, 6, 2, 0, tzinfo=UTC)
    clock.now = datetime(2026, 6, 2, 0, 0, 1, tzinfo=UTC)
    done = run().send_all(batch, store.get_many(i.key for i in batch if i.key))
    assert [o.status for o in done] == ["sent"] * 4
    assert [o.reason for o in done[:3]] == ["sent by an earlier try"] * 3
    assert api.sent == ["ann", "cy", "bob", "dee"]


def test_a_closed_window_does_not_hold_what_needs_no_request(store, clock):
    api = FakeApi()
    batch = items(rows(ann="Asia/Tokyo"))
    clock.now = datetime(2026, 6, 1, 1, tzinfo=UTC)  # 10:00 in Tokyo
    BatchRun(GuardedSender(api, store, daily_limit=0), windows=policy(clock)).send_all(batch, {})
    clock.now = datetime(2026, 6, 1, 9, tzinfo=UTC)  # 18:00 in Tokyo: closed
    again = BatchRun(GuardedSender(api, store, daily_limit=0), windows=policy(clock))
    done = again.send_all(batch, store.get_many(i.key for i in batch if i.key))
    assert [o.status for o in done] == ["skipped"]  # another run sent it: no wait
    assert api.sent == ["ann"]


def test_a_dry_run_says_whose_window_is_closed(store, clock):
    batch = items(rows(ann="Europe/Berlin", bob="America/New_York", cy="Pluto/Base"))
    done = BatchRun(None, windows=policy(clock)).dry_run(batch, {})
    assert [o.status for o in done] == ["would_send", "would_send", "failed"]
    assert done[0].reason is None
    assert done[1].reason == "outside the send window until Mon 2026-06-01T09:00:00-04:00"


def test_no_window_no_wait(store, clock):
    api = FakeApi()
    clock.now = datetime(2026, 6, 6, 3, tzinfo=UTC)  # Saturday night
    done = BatchRun(GuardedSender(api, store, daily_limit=0)).send_all(items(rows(ann=None)), {})
    assert [o.status for o in done] == ["sent"]


# -- a sequence run -----------------------------------------------------------------------

STEPS = [SequenceStep("Hi"), SequenceStep("Following up", wait=timedelta(days=1))]


def render(step, data, number, variant=None):
    return step.message, None


def build(enrollment, message, subject):
    if enrollment.step and enrollment.conversation_urn:
        return MessageRequest(
            message=message, recipient_profile_id=None, recipient_profile_urn=enrollment.conversation_urn
        )
    return MessageRequest.build(message=message, recipient_profile_id=enrollment.recipient)


def sequence(store, api, clock, **kwargs) -> SequenceRun:
    return SequenceRun(
        campaign="q3",
        steps=STEPS,
        store=SequenceStore(store),
        sender=GuardedSender(api, store, daily_limit=0),
        build=build,
        render=render,
        windows=policy(clock),
        **kwargs,
    )


def people(**zones: str | None):
    return prepare_items(rows(**zones), lambda row: ("Hi", None), campaign="q3")


def test_due_steps_outside_the_window_wait_and_the_rest_go_out(store, clock):
    api = FakeApi()
    with pytest.raises(WindowClosed) as info:
        sequence(store, api, clock).execute(people(ann="Europe/Berlin", bob="America/New_York"))
    assert api.sent == ["ann"] and info.value.reset_at == datetime(2026, 6, 1, 13, tzinfo=UTC)
    clock.now = datetime(2026, 6, 1, 13, 0, 1, tzinfo=UTC)
    result = sequence(store, api, clock).execute(people(ann="Europe/Berlin", bob="America/New_York"))
    assert api.sent == ["ann", "bob"]
    by = {o["recipient"]: o for o in result["outcomes"]}
    # ann's next step is not due yet: she counts as waiting, without an outcome of her own.
    assert by["bob"]["status"] == "sent" and "ann" not in by and result["summary"]["waiting"] == 1
    # Step 2 is due a day later: on Saturday 2026-06-06 no window is open, whoever it is.
    clock.now = datetime(2026, 6, 6, 12, tzinfo=UTC)
    with pytest.raises(WindowClosed) as info:
        sequence(store, api, clock).execute([])
    assert info.value.reset_at == datetime(2026, 6, 8, 7, tzinfo=UTC)  # Monday 09:00 in Berlin
    assert "closed for 2 recipient(s)" in info.value.reason


def test_a_sequence_dry_run_says_whose_window_is_closed(store, clock):
    result = sequence(store, FakeApi(), clock).execute(people(ann=None, bob="America/New_York"), dry_run=True)
    by = {o["recipient"]: o for o in result["outcomes"]}
    assert by["ann"]["status"] == by["bob"]["status"] == "would_send"
    assert "reason" not in by["ann"]
    assert by["bob"]["reason"] == "outside the send window until Mon 2026-06-01T09:00:00-04:00"


def test_a_bad_time_zone_is_not_enrolled(store, clock):
    api = FakeApi()
    result = sequence(store, api, clock).execute(people(ann="Europe/Berlin", bob="Atlantis"))
    by = {o["recipient"]: o for o in result["outcomes"]}
    assert by["bob"]["status"] == "failed" and "recipients[1].timezone" in by["bob"]["reason"]
    assert api.sent == ["ann"]


def test_a_bad_time_zone_kept_from_enrolment_fails_that_enrolment(store, clock):
    api = FakeApi()
    SequenceRun(
        campaign="q3",
        steps=STEPS,
        store=SequenceStore(store),
        sender=GuardedSender(api, store, daily_limit=0),
        build=build,
        render=render,
    ).execute(people(ann="Atlantis"))  # enrolled before the window was set
    clock.now += timedelta(days=1)
    result = sequence(store, api, clock).execute([])
    (outcome,) = result["outcomes"]
    assert outcome["state"] == "failed" and "Invalid `recipient.timezone`: 'Atlantis'" in outcome["error"]
    assert api.sent == ["ann"]


def test_the_window_text_is_kept_as_written():
    assert RecipientWindows.build(" Mon-Fri 09:00-17:30 ").window == SendWindow.parse("Mon-Fri 09:00-17:30")
