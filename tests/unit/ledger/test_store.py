"""The send ledger on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_connectsafely.ledger import FAILED, PENDING, SENT, UNKNOWN, NewSend
from airflow_provider_connectsafely.ledger.store import SendLedger


def new(key: str = "k1", account: str = "acct", recipient: str = "bob") -> NewSend:
    return NewSend(key, account, recipient, dag_id="d", task_id="t", run_id="r", map_index=-1)


def test_first_claim_wins_and_the_second_sees_the_row(ledger):
    first = ledger.claim(new())
    assert first.claimed and first.token
    second = ledger.claim(new())
    assert not second.claimed
    assert second.entry.state == PENDING
    assert (second.entry.dag_id, second.entry.run_id) == ("d", "r")


def test_sent_rows_keep_the_answer(ledger):
    claim = ledger.claim(new())
    ledger.mark_sent("k1", claim.token, {"success": True, "recipientProfileUrn": "urn:li:fsd_profile:B"})
    entry = ledger.get("k1")
    assert entry.state == SENT
    assert entry.recipient_urn == "urn:li:fsd_profile:B"
    assert entry.response == {"success": True, "recipientProfileUrn": "urn:li:fsd_profile:B"}
    assert not ledger.claim(new()).claimed


def test_a_failure_that_proves_nothing_was_sent_may_be_claimed_again(ledger):
    claim = ledger.claim(new())
    ledger.mark_failed("k1", claim.token, "AuthenticationError: bad key", retryable=True)
    entry = ledger.get("k1")
    assert entry.state == FAILED and entry.error.startswith("AuthenticationError")
    again = ledger.claim(new())
    assert again.claimed
    assert ledger.get("k1").attempts == 2


def test_unknown_is_never_claimed_again_unless_taken_over(ledger):
    claim = ledger.claim(new())
    ledger.mark_unknown("k1", claim.token, "read timeout")
    refused = ledger.claim(new())
    assert not refused.claimed and refused.entry.state == UNKNOWN
    assert ledger.claim(new(), take_over=(UNKNOWN,)).claimed


def test_only_the_claim_holder_may_record(ledger):
    claim = ledger.claim(new())
    with pytest.raises(LookupError):
        ledger.mark_sent("k1", "not-the-token", {})
    ledger.mark_failed("k1", claim.token, "x", retryable=True)
    ledger.claim(new())  # a new holder
    with pytest.raises(LookupError):
        ledger.mark_sent("k1", claim.token, {})


def test_count_since_counts_what_may_have_been_delivered(ledger):
    for key, outcome in [("a", SENT), ("b", UNKNOWN), ("c", FAILED), ("d", PENDING)]:
        claim = ledger.claim(new(key))
        if outcome == SENT:
            ledger.mark_sent(key, claim.token, {})
        elif outcome == UNKNOWN:
            ledger.mark_unknown(key, claim.token, "?")
        elif outcome == FAILED:
            ledger.mark_failed(key, claim.token, "no", retryable=True)
    ledger.mark_sent("e", ledger.claim(new("e", account="other")).token, {})
    start = datetime.now(timezone.utc) - timedelta(minutes=1)
    assert ledger.count_since("acct", start) == 3
    assert ledger.count_since("other", start) == 1
    assert ledger.count_since("acct", datetime.now(timezone.utc) + timedelta(minutes=1)) == 0


def test_each_cap_counts_only_its_kind_of_send(ledger):
    from dataclasses import replace

    ledger.mark_sent("m", ledger.claim(new("m")).token, {})
    for key in ("c1", "c2"):
        ledger.mark_sent(key, ledger.claim(replace(new(key), kind="connect")).token, {})
    start = datetime.now(timezone.utc) - timedelta(minutes=1)

    assert ledger.count_since("acct", start) == 1
    assert ledger.count_since("acct", start, kind="message") == 1
    assert ledger.count_since("acct", start, kind="connect") == 2
    assert (ledger.get("c1").kind, ledger.get("m").kind) == ("connect", "message")


def test_a_campaign_key_is_stored_with_its_campaign(ledger):
    ledger.claim(new("campaign:q1:emea:bob"))
    ledger.claim(new("sequence:onboard:2:urn:li:fsd_profile:X"))
    ledger.claim(new("adhoc"))

    assert ledger.get("campaign:q1:emea:bob").campaign == "batch:q1:emea"
    assert ledger.get("sequence:onboard:2:urn:li:fsd_profile:X").campaign == "sequence:onboard"
    assert ledger.get("adhoc").campaign is None


def test_get_many_reads_in_bulk(ledger):
    keys = [f"key-{n}" for n in range(2100)]
    for key in keys[::3]:
        ledger.claim(new(key))
    found = ledger.get_many(keys)
    assert set(found) == set(keys[::3])


def test_resolve_settles_unknown_by_hand(ledger):
    claim = ledger.claim(new())
    ledger.mark_unknown("k1", claim.token, "timeout")
    assert ledger.resolve("k1", SENT, "seen in LinkedIn")
    assert ledger.get("k1").state == SENT
    assert not ledger.resolve("k1", FAILED)  # only pending/unknown rows
    with pytest.raises(ValueError):
        ledger.resolve("k1", UNKNOWN)


def test_parallel_claims_have_exactly_one_winner(ledger):
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        claim = ledger.claim(new("contested"))
        if claim.claimed:
            winners.append(claim.token)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_schema_is_created_on_first_use_by_racing_ledgers(tmp_path):
    path = tmp_path / "race.sqlite"
    ledgers = [SendLedger.sqlite(path) for _ in range(4)]
    threads = [threading.Thread(target=store.ensure_schema) for store in ledgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ledgers[0].claim(new()).claimed
    assert "race.sqlite" in ledgers[0].describe()


def test_describe_hides_passwords_in_query_options(tmp_path):
    store = SendLedger.from_url(f"sqlite:///{tmp_path}/q.db?password=s3cret-opt")
    assert "s3cret-opt" not in store.describe()


@pytest.mark.postgres
def test_postgres_url_hides_the_password(postgres_url):
    store = SendLedger.from_url(postgres_url)
    assert "connectsafely-tests" not in store.describe()
    assert "connectsafely-tests" not in repr(store)
