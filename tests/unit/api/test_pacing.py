"""Pacing from the rate-limit headers: the pacer's policy on a fake clock, then the client
against the emulator's request window on the emulator's manual clock (nobody sleeps)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.api.client import ConnectSafelyClient
from airflow_provider_connectsafely.api.conversation_send import build_send_request
from airflow_provider_connectsafely.api.pacing import RequestPacer
from airflow_provider_connectsafely.api.reads import ConversationsRead
from airflow_provider_connectsafely.api.retry import RetryPolicy
from airflow_provider_connectsafely.emulator import EmulatorServer, ManualClock
from airflow_provider_connectsafely.errors import RateLimitError

START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)
KEY = "pacing-key-7c1d"


class FakeTime:
    """A clock and a sleep that moves it: what the pacer waited is in ``slept``."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def pacer(fake: FakeTime, **kwargs) -> RequestPacer:
    return RequestPacer(clock=fake.clock, sleep=fake.sleep, margin=0.25, **kwargs)


def headers(remaining: object, reset: object) -> dict[str, str]:
    return {"X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset)}


def iso_in(fake: FakeTime, seconds: float) -> str:
    return (fake.now + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def test_goes_while_the_window_has_room_then_waits_for_its_reset():
    fake = FakeTime()
    paced = pacer(fake)
    assert paced.before_request() == 0  # nothing known yet
    paced.observe(headers(2, iso_in(fake, 10)))
    assert paced.before_request() == 0
    assert paced.before_request() == 0  # counted locally: no answer needed in between
    assert paced.before_request() == pytest.approx(10.25)
    assert fake.slept == [pytest.approx(10.25)]
    assert paced.window is None  # a new window: the next answer describes it
    assert paced.before_request() == 0


def test_the_answer_of_each_request_replaces_the_local_count():
    fake = FakeTime()
    paced = pacer(fake)
    paced.observe(headers(5, iso_in(fake, 30)))
    paced.before_request()
    paced.observe(headers(0, iso_in(fake, 30)))  # other workers on the key used the rest
    assert paced.before_request() == pytest.approx(30.25)


@pytest.mark.parametrize(
    "reset",
    [
        "2026-03-02T09:00:20Z",  # ISO 8601, as the current docs say
        "2026-03-02T09:00:20.000+00:00",
        str(int((START + timedelta(seconds=20)).timestamp())),  # Unix seconds (an older page)
        str(int((START + timedelta(seconds=20)).timestamp() * 1000)),  # Unix milliseconds
    ],
)
def test_reset_as_iso_8601_or_unix_time(reset):
    fake = FakeTime()
    paced = pacer(fake)
    paced.observe(headers(0, reset))
    assert paced.before_request() == pytest.approx(20.25)


def test_a_daily_quota_never_puts_the_task_to_sleep_until_tomorrow():
    """Send answers describe the daily quota with the same headers: a reset hours away is
    the caps' and deferral's business, not the pacer's."""
    fake = FakeTime()
    paced = pacer(fake)
    paced.observe(headers(0, "2026-03-03T00:00:00Z"))
    assert paced.window is None
    assert paced.before_request() == 0
    # ... and it leaves a request window seen before alone.
    paced.observe(headers(3, iso_in(fake, 40)))
    paced.observe(headers(0, "2026-03-03T00:00:00Z"))
    assert paced.window is not None and paced.window.remaining == 3


def test_the_horizon_separates_request_windows_from_quotas():
    fake = FakeTime()
    paced = pacer(fake, horizon=120)
    paced.observe(headers(0, iso_in(fake, 121)))
    assert paced.before_request() == 0
    paced.observe(headers(0, iso_in(fake, 119)))
    assert paced.before_request() == pytest.approx(60)  # within the horizon, capped at max_wait


def test_waits_are_bounded_by_max_wait():
    fake = FakeTime()
    paced = pacer(fake, max_wait=5)
    paced.observe(headers(0, iso_in(fake, 50)))
    assert paced.before_request() == 5
    assert RequestPacer().max_wait == defaults.MAX_RATE_LIMIT_WAIT
    assert RequestPacer().horizon == defaults.RATE_WINDOW_HORIZON


@pytest.mark.parametrize("make", [RequestPacer.off, lambda: RequestPacer(max_wait=0)])
def test_off_never_waits(make):
    paced = make()
    paced.observe(headers(0, datetime.now(timezone.utc) + timedelta(seconds=30)))
    assert paced.before_request() == 0


def test_reserve_leaves_requests_for_others():
    fake = FakeTime()
    paced = pacer(fake, reserve=2)
    paced.observe(headers(3, iso_in(fake, 10)))
    assert paced.before_request() == 0
    assert paced.before_request() == pytest.approx(10.25)


@pytest.mark.parametrize(
    "answer",
    [
        {},  # no headers at all
        {"X-RateLimit-Reset": "2026-03-02T09:00:10Z"},  # a 429 fault's lone reset
        headers("many", "2026-03-02T09:00:10Z"),
        headers("nan", "2026-03-02T09:00:10Z"),
        {"X-RateLimit-Remaining": "0"},  # no reset: nothing to wait for
        headers(0, "soon"),
        headers(0, "2026-03-02T08:59:50Z"),  # the window is over already
    ],
)
def test_answers_it_cannot_pace_on_change_nothing(answer):
    fake = FakeTime()
    paced = pacer(fake)
    paced.observe(answer)
    assert paced.window is None
    assert paced.before_request() == 0


def test_a_window_that_ended_is_forgotten():
    fake = FakeTime()
    paced = pacer(fake)
    paced.observe(headers(0, iso_in(fake, 5)))
    fake.now += timedelta(seconds=6)
    assert paced.before_request() == 0 and fake.slept == []
    paced.observe(headers(4, iso_in(fake, 5)))
    paced.observe(headers(0, iso_in(fake, -1)))  # an answer saying its window is over
    assert paced.window is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"horizon": -1}, "horizon"),
        ({"max_wait": float("inf")}, "max_wait"),
        ({"margin": "1"}, "margin"),
        ({"reserve": -1}, "reserve"),
        ({"reserve": 1.5}, "reserve"),
    ],
)
def test_bad_settings_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"`{field}`"):
        RequestPacer(**kwargs)


# --- the client against the emulator's request window ----------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[EmulatorServer]:
    with EmulatorServer(api_key=KEY, clock=clock, rate_limit=10, rate_window=2, daily_limit=1000) as server:
        yield server


def client_on(
    emulator: EmulatorServer, clock: ManualClock, slept: list[float], **kwargs
) -> ConnectSafelyClient:
    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    kwargs.setdefault("pacer", RequestPacer(clock=clock, sleep=sleep))
    return ConnectSafelyClient(KEY, emulator.url, sleep=sleep, **kwargs)


def message(n: int):
    return build_send_request(endpoint="messaging", message="Hi", recipient_profile_id=f"lead-{n}")


def statuses(emulator: EmulatorServer) -> list[int]:
    return [r["status"] for r in emulator.requests()]


def test_a_steady_run_draws_no_429_and_waits_once_per_window(emulator, clock):
    slept: list[float] = []
    client = client_on(emulator, clock, slept)
    for n in range(35):
        client.send(message(n))
    assert statuses(emulator) == [200] * 35
    assert emulator.rate_limit()["refused"] == 0
    assert len(emulator.messages()) == 35
    # 35 requests at 10 per 2 s: three full windows waited out, the fourth not yet full.
    assert len(slept) == 3
    assert all(2.0 <= s <= 2.0 + defaults.PACING_MARGIN + 0.01 for s in slept)


@pytest.mark.parametrize("shared", [True, False])
def test_clients_of_one_key_in_one_process_pace_together(emulator, clock, shared):
    """Two clients of the same key taking turns (two tasks of one ``dag.test()``, say): with
    one window between them no request is refused; each on its own draws 429s."""
    slept: list[float] = []
    key = f"key-{uuid.uuid4()}" if shared else None

    def own_pacer() -> RequestPacer:
        return RequestPacer(clock=clock, sleep=lambda s: (slept.append(s), clock.advance(s)), key=key)

    first, second = (client_on(emulator, clock, slept, pacer=own_pacer()) for _ in range(2))
    for n in range(30):
        (first if n % 2 else second).send(message(n))
    assert len(emulator.messages()) == 30
    refused = emulator.rate_limit()["refused"]
    assert refused == 0 if shared else refused > 0


def test_the_default_pacer_is_shared_by_the_clients_of_one_key_and_base_url(emulator):
    one, two = ConnectSafelyClient(KEY, emulator.url), ConnectSafelyClient(KEY, emulator.url)
    other_key = ConnectSafelyClient("another-key", emulator.url)
    assert one.pacer._shared is two.pacer._shared
    assert other_key.pacer._shared is not one.pacer._shared
    assert KEY not in one._key_fingerprint()


def test_reads_are_paced_too(emulator, clock):
    slept: list[float] = []
    client = client_on(emulator, clock, slept)
    for _ in range(12):
        client.list_conversations(ConversationsRead(count=10))
    assert statuses(emulator) == [200] * 12 and len(slept) == 1


def test_unix_second_resets_are_followed(clock):
    slept: list[float] = []
    with EmulatorServer(
        api_key=KEY, clock=clock, rate_limit=3, rate_window=1.5, rate_reset_format="unix"
    ) as emu:
        clock.advance(0.2)  # windows that end mid-second: the header is rounded up
        client = client_on(emu, clock, slept)
        for n in range(7):
            client.send(message(n))
        assert statuses(emu) == [200] * 7
    assert len(slept) == 2


def test_without_pacing_the_same_run_draws_429s_that_the_retry_policy_waits_out(emulator, clock):
    slept: list[float] = []
    client = client_on(emulator, clock, slept, pacer=RequestPacer.off())
    for n in range(25):
        client.send(message(n))
    assert len(emulator.messages()) == 25
    assert statuses(emulator).count(429) == 2 == emulator.rate_limit()["refused"]


def test_a_policy_that_waits_out_no_429_does_not_pace_either(emulator, clock):
    """Triggers poll with ``max_rate_limit_wait=0``: the client must raise at once, never
    block a triggerer thread."""
    slept: list[float] = []
    client = client_on(emulator, clock, slept, pacer=None, retry_policy=RetryPolicy.default(0))
    assert client.pacer.max_wait == 0
    with pytest.raises(RateLimitError):
        for n in range(11):
            client.send(message(n))
    assert slept == []
    assert ConnectSafelyClient(KEY, emulator.url).pacer.max_wait == defaults.MAX_RATE_LIMIT_WAIT


def test_the_daily_quota_headers_of_sends_cause_no_wait(clock):
    """Rate limit off: send answers carry the daily quota, which pacing leaves to the caps."""
    slept: list[float] = []
    with EmulatorServer(api_key=KEY, clock=clock, daily_limit=2) as emu:
        # No retries: what the 429 itself does is the retry policy's business, tested elsewhere.
        client = client_on(emu, clock, slept, retry_policy=RetryPolicy.never())
        client.send(message(1))
        client.send(message(2))  # Remaining: 0 until midnight
        assert client.pacer.window is None
        with pytest.raises(RateLimitError) as raised:
            client.send(message(3))
    assert slept == []
    assert raised.value.reset_at == datetime(2026, 3, 3, tzinfo=timezone.utc)
