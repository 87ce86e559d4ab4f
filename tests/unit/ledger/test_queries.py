"""Read-only ledger queries (listing, export, statistics) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_connectsafely.ledger import FAILED, PENDING, SENT, UNKNOWN, NewSend, queries
from airflow_provider_connectsafely.ledger.queries import Filters
from airflow_provider_connectsafely.ledger.sequences import SequenceStore
from airflow_provider_connectsafely.ledger.store import SendLedger

NOW = datetime(2025, 3, 10, 15, 0, tzinfo=timezone.utc)


def record(
    ledger: SendLedger, key: str, state: str, account: str = "acct-a", ago: timedelta = timedelta()
) -> None:
    ledger.clock = lambda: NOW - ago
    claim = ledger.claim(NewSend(key, account, key.rsplit(":", 1)[-1], "d", "t", "r", -1))
    token = claim.token
    assert token is not None
    if state == SENT:
        ledger.mark_sent(key, token, {"recipientProfileUrn": "urn:li:fsd_profile:X"})
    elif state == FAILED:
        ledger.mark_failed(key, token, "bad input", retryable=True)
    elif state == UNKNOWN:
        ledger.mark_unknown(key, token, "read timeout")
    ledger.clock = lambda: NOW


@pytest.fixture
def seeded(ledger):
    record(ledger, "campaign:spring:john", SENT, ago=timedelta(hours=1))
    record(ledger, "campaign:spring:urn:li:fsd_profile:ACoAAB", UNKNOWN, ago=timedelta(hours=2))
    record(ledger, "campaign:spring:jane", FAILED, account="acct-b", ago=timedelta(days=1))
    record(ledger, "campaign:spring2:joe", SENT, account="acct-b", ago=timedelta(days=1))
    record(ledger, "sequence:onboard:1:bob", SENT, ago=timedelta(days=2))
    record(ledger, "sequence:onboard:2:bob", PENDING, ago=timedelta(hours=3))
    record(ledger, "dag/task/run/ann", PENDING, account="default", ago=timedelta(minutes=5))
    store = SequenceStore(ledger)
    store.enroll("onboard", [("bob", "acct-a", {}), ("carl", "acct-a", {})])
    bob = store.enrollments("onboard")[0]
    store.mark_replied(bob, NOW, "thanks")
    return ledger


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("campaign:spring:john-doe", ("batch", "spring")),
        ("campaign:spring:urn:li:fsd_profile:ACoAAB", ("batch", "spring")),
        ("campaign:q1:emea:john", ("batch", "q1:emea")),
        ("campaign:q1:emea:urn:li:fsd_profile:X", ("batch", "q1:emea")),
        ("sequence:onboard:2:bob", ("sequence", "onboard")),
        ("sequence:on:board:12:urn:li:fsd_profile:X", ("sequence", "on:board")),
        ("sequence:onboard:bob", None),
        ("campaign:john", None),
        ("dag/task/run/ann", None),
        ("campaigns:x:y", None),
    ],
)
def test_campaign_of_reads_the_key(key, expected):
    assert queries.campaign_of(key) == expected


def test_list_filters_and_orders_newest_first(seeded):
    everything = queries.list_entries(seeded, Filters())
    assert [e.dedupe_key for e in everything][:2] == ["dag/task/run/ann", "campaign:spring:john"]
    assert len(everything) == queries.count_entries(seeded, Filters()) == 7

    spring = queries.list_entries(seeded, Filters(campaign="spring"))
    assert {e.dedupe_key for e in spring} == {
        "campaign:spring:john",
        "campaign:spring:urn:li:fsd_profile:ACoAAB",
        "campaign:spring:jane",
    }
    onboard = Filters(campaign="onboard", states=(PENDING,))
    assert [e.dedupe_key for e in queries.list_entries(seeded, onboard)] == ["sequence:onboard:2:bob"]
    recent = Filters(account="acct-a", since=NOW - timedelta(hours=2, minutes=30))
    assert {e.dedupe_key for e in queries.list_entries(seeded, recent)} == {
        "campaign:spring:john",
        "campaign:spring:urn:li:fsd_profile:ACoAAB",
    }
    oldest = queries.list_entries(seeded, Filters(), limit=1, newest_first=False)
    assert [e.dedupe_key for e in oldest] == ["sequence:onboard:1:bob"]


def test_a_campaign_filter_is_literal(seeded):
    record(seeded, "campaign:50%_off:x", SENT)
    assert [e.dedupe_key for e in queries.list_entries(seeded, Filters(campaign="50%_off"))] == [
        "campaign:50%_off:x"
    ]
    assert queries.list_entries(seeded, Filters(campaign="spr%")) == []


def test_account_stats_count_today_from_the_day_start(seeded):
    stats = {a.account: a for a in queries.account_stats(seeded, Filters(), day_start=NOW.replace(hour=0))}
    assert stats["acct-a"].sent_today == 1
    assert stats["acct-a"].states == {PENDING: 1, SENT: 2, FAILED: 0, UNKNOWN: 1}
    assert (stats["acct-b"].sent_today, stats["acct-b"].states[FAILED]) == (0, 1)
    assert stats["default"].states[PENDING] == 1


def test_campaign_stats_include_sequence_enrolments(seeded):
    stats = {(c.kind, c.campaign): c for c in queries.campaign_stats(seeded, Filters())}
    assert set(stats) == {("batch", "spring"), ("batch", "spring2"), ("sequence", "onboard")}
    assert stats[("batch", "spring")].states == {PENDING: 0, SENT: 1, FAILED: 1, UNKNOWN: 1}
    assert stats[("batch", "spring")].enrollments is None
    onboard = stats[("sequence", "onboard")]
    assert onboard.states == {PENDING: 1, SENT: 1, FAILED: 0, UNKNOWN: 0}
    assert onboard.enrollments is not None
    assert (onboard.enrollments["replied"], onboard.enrollments["active"]) == (1, 1)
    only = queries.campaign_stats(seeded, Filters(campaign="onboard"))
    assert [c.campaign for c in only] == ["onboard"]


def test_schema_checks_read_the_version(seeded):
    from airflow_provider_connectsafely.ledger.migrations import HEAD

    assert queries.schema_version(seeded.engine) == HEAD
    assert queries.has_sends_table(seeded.engine)


def test_reading_an_empty_database_creates_nothing(tmp_path):
    store = SendLedger.from_url(f"sqlite:///{tmp_path}/empty.sqlite")
    try:
        assert queries.schema_version(store.engine) is None
        assert not queries.has_sends_table(store.engine)
        from sqlalchemy import inspect

        assert inspect(store.engine).get_table_names() == []
    finally:
        store.close()


def test_results_per_step_and_variant_on_a_ledger_with_known_counts(ledger):
    from helpers import variant_ledger

    from airflow_provider_connectsafely.outreach.variants import result_row

    variant_ledger.fill(ledger)

    assert queries.variant_counts(ledger, queries.SEQUENCE, "q4") == variant_ledger.SEQUENCE_COUNTS
    assert queries.variant_counts(ledger, queries.BATCH, "spring") == variant_ledger.BATCH_COUNTS
    assert queries.variant_counts(ledger, queries.BATCH, "q4") == []
    rows = [result_row(*row) for row in variant_ledger.SEQUENCE_COUNTS]
    assert [(r["reply_rate"], r["ci95"]) for r in rows] == [
        (0.3, [0.1078, 0.6032]),
        (0.125, [0.0224, 0.4709]),
        (0.4, [0.1176, 0.7693]),
    ]
