"""A campaign's funnel, computed in SQL, on SQLite and PostgreSQL: the stages, each step's
reach, replies, rate and median time to reply, acceptance, and skipped people by reason."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_connectsafely.ledger import funnel
from airflow_provider_connectsafely.ledger.records import CONNECT, NewSend
from airflow_provider_connectsafely.ledger.sequences import (
    SKIP_CAP,
    SKIP_CONNECTED,
    SKIP_WINDOW,
    SUPPRESSED,
    SequenceStore,
)
from airflow_provider_connectsafely.ledger.store import SendLedger

T0 = datetime(2031, 3, 2, 9, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger(request, tmp_path):
    clock = Clock()
    if request.param == "sqlite":
        found = SendLedger.sqlite(tmp_path / "ledger.sqlite", clock=clock)
    else:
        found = SendLedger.from_url(request.getfixturevalue("postgres_url"), clock=clock)
    found.ensure_schema()
    yield found
    found.close()


def _sent(ledger: SendLedger, key: str, recipient: str, kind: str = "message") -> None:
    claim = ledger.claim(NewSend(key, "acct-1", recipient, kind=kind))
    assert claim.token
    ledger.mark_sent(key, claim.token, {})


def connect_first_campaign(ledger: SendLedger) -> None:
    """10 people; step 1 a connection request, steps 2 and 3 messages (see the asserts)."""
    clock = ledger.clock
    store = SequenceStore(ledger)
    people = [f"p{i}" for i in range(10)]
    store.enroll("onboard", [(p, "acct-1", {}) for p in people])

    def at(who: str):
        return store.get_many("onboard", [who])[who]

    def step(who: str, hours: float, skipped: str | None = None) -> None:
        clock.now = T0 + timedelta(hours=hours)
        e = at(who)
        if skipped is None:
            kind = CONNECT if e.step == 0 else "message"
            _sent(ledger, f"sequence:onboard:{e.step + 1}:{who}", who, kind)
        assert store.advance(e, sent_at=clock.now, conversation_urn=None, finished=False, skipped=skipped)

    for who in ("p0", "p1", "p2", "p3", "p4", "p5"):
        step(who, 1)
    step("p6", 1, skipped=SKIP_CONNECTED)
    for who in ("p0", "p1", "p2", "p3"):
        assert store.mark_accepted(at(who), T0 + timedelta(hours=5))
    for who in ("p0", "p1", "p2", "p6"):
        step(who, 10)
    step("p0", 20)
    # replies: after step 3 in 1 h; after step 2 in 2, 4 and 6 h; after step 1 in 30 min
    for who, after in (("p0", 21), ("p1", 12), ("p2", 14), ("p6", 16), ("p3", 1.5)):
        assert store.mark_replied(at(who), T0 + timedelta(hours=after), f"Hello from {who}\nmore")
    store.note_skipped("onboard", ["p7"], SKIP_WINDOW, T0 + timedelta(hours=30))
    store.note_skipped("onboard", ["p9"], SKIP_CAP, T0 + timedelta(hours=30))
    # p8 was held for the cap, then found on the do-not-contact list: counted there only.
    store.note_skipped("onboard", ["p8"], SKIP_CAP, T0 + timedelta(hours=30))
    assert store.set_state(at("p8"), SUPPRESSED, error="suppressed: on the do-not-contact list")


def test_a_connect_first_sequence_funnel_with_rates_medians_and_skips(ledger):
    connect_first_campaign(ledger)

    found = funnel.campaign_funnel(ledger, "sequence:onboard")

    assert found["stages"] == [
        {"stage": "enrolled", "people": 10, "rate": None},
        {"stage": "first step sent", "people": 7, "rate": 0.7},
        {"stage": "accepted", "people": 4, "rate": 0.6667},
        {"stage": "replied", "people": 5, "rate": round(5 / 7, 4)},
    ]
    assert found["steps"] == [
        {"step": 1, "sent": 7, "replied": 1, "reply_rate": round(1 / 7, 4), "median_reply_seconds": 1800.0},
        {"step": 2, "sent": 4, "replied": 3, "reply_rate": 0.75, "median_reply_seconds": 14400.0},
        {"step": 3, "sent": 1, "replied": 1, "reply_rate": 1.0, "median_reply_seconds": 3600.0},
    ]
    assert (found["connect_first"], found["connection_requests_sent"], found["accepted"]) == (True, 6, 4)
    assert found["acceptance_rate"] == 0.6667
    assert found["skipped"] == {
        "already connected": 1,
        "already invited": 0,
        "outside window": 1,
        "cap": 1,
        "suppressed": 1,
    }
    assert found["sends"]["sent"] == 6 + 4 + 1


def test_a_median_of_an_even_number_of_replies_is_the_mean_of_the_middle_two(ledger):
    store = SequenceStore(ledger)
    store.enroll("drip", [(p, "acct-1", {}) for p in ("a", "b", "c", "d")])
    for number, who in enumerate(("a", "b", "c", "d")):
        e = store.get_many("drip", [who])[who]
        store.advance(e, sent_at=T0, conversation_urn=None, finished=False)
        store.mark_replied(e, T0 + timedelta(minutes=10 * (number + 1)), "hi")

    found = funnel.campaign_funnel(ledger, "sequence:drip")

    assert found["steps"] == [
        {"step": 1, "sent": 4, "replied": 4, "reply_rate": 1.0, "median_reply_seconds": 1500.0}
    ]
    assert found["connect_first"] is False and found["acceptance_rate"] is None
    assert [s["stage"] for s in found["stages"]] == ["enrolled", "first step sent", "replied"]


def test_a_held_step_that_goes_out_clears_its_reason_a_connect_skip_stays(ledger):
    store = SequenceStore(ledger)
    store.enroll("drip", [("a", "acct-1", {}), ("b", "acct-1", {})])
    store.note_skipped("drip", ["a"], SKIP_WINDOW, T0)
    e = store.get_many("drip", ["a", "b"])
    store.advance(e["a"], sent_at=T0, conversation_urn=None, finished=False)
    store.advance(e["b"], sent_at=T0, conversation_urn=None, finished=False, skipped=SKIP_CONNECTED)
    store.advance(e["b"], sent_at=T0, conversation_urn=None, finished=False)

    assert funnel.campaign_funnel(ledger, "sequence:drip")["skipped"][SKIP_WINDOW] == 0
    assert funnel.campaign_funnel(ledger, "sequence:drip")["skipped"][SKIP_CONNECTED] == 1
    with pytest.raises(ValueError, match="skip reason"):
        store.note_skipped("drip", ["a"], "bored", T0)


def test_a_batch_has_sends_and_no_steps(ledger):
    _sent(ledger, "campaign:spring:ann", "ann")

    found = funnel.campaign_funnel(ledger, "batch:spring")

    assert found["kind"] == "batch" and found["steps"] == [] and found["sends"]["sent"] == 1
