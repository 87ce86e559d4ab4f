"""The sequence store's set-based queries (due rows, reconcile, removal, reply aggregates,
counts), on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_connectsafely.ledger.sequences import SequenceStore

NOW = datetime(2031, 5, 5, 9, 0, tzinfo=timezone.utc)
WAITS = [timedelta(0), timedelta(days=3), timedelta(days=4)]


def test_the_set_based_queries_match_the_per_enrolment_rules(ledger):
    clock = {"now": NOW - timedelta(days=5)}
    ledger.clock = lambda: clock["now"]
    store = SequenceStore(ledger)
    assert store.enroll("c", [(n, "acc-a" if n < "d" else "acc-b", {"n": n}) for n in "abcdef"]) == list(
        "abcdef"
    )
    assert store.enroll("c", [("a", "acc-a", {}), ("g", "acc-b", {})]) == ["g"]  # a is known
    assert store.recipients("c") == set("abcdefg")
    rows = store.get_many("c", "abcdef")
    sent = {
        "a": NOW - timedelta(days=3, minutes=1),
        "b": NOW - timedelta(days=2),
        "d": NOW - timedelta(days=4),
    }
    for who, at in sent.items():
        store.advance(
            rows[who], sent_at=at, conversation_urn=f"urn:li:msg_conversation:{who}", finished=False
        )
    store.set_state(rows["c"], "unknown", error="timeout")
    store.set_state(rows["e"], "failed", error="404")
    clock["now"] = NOW
    # f and g: step 1 due (wait 0); a and d: step 2 due; b not yet; c unknown: always due.
    assert [e.recipient for e in store.due("c", WAITS, NOW)] == ["a", "c", "d", "f", "g"]
    assert store.counts("c") == {"active": 5, "unknown": 1, "failed": 1}
    assert store.reply_starts("c") == [("acc-a", sent["a"]), ("acc-b", sent["d"])]
    assert [e.recipient for e in store.watched("c", "acc-a")] == ["a", "b"]
    named = store.watched("c", "acc-a", conversations={"urn:li:msg_conversation:b"}, recipients={"zz"})
    assert [e.recipient for e in named] == ["b"]

    store.reconcile("c", 1)  # steps cut to one: a, b, d finish
    assert store.counts("c")["finished"] == 3
    # finished people are watched only within a reply window after their last step
    assert store.reply_starts("c") == []
    since = NOW - timedelta(days=3, minutes=30)  # a's and b's last steps, not d's
    assert store.reply_starts("c", since) == [("acc-a", sent["a"])]
    assert [e.recipient for e in store.watched("c", "acc-a", finished_since=since)] == ["a", "b"]
    assert store.watched("c", "acc-b", finished_since=since) == []
    store.reconcile("c", 3)  # and back: they reopen
    assert store.counts("c") == {"active": 5, "unknown": 1, "failed": 1}
    assert sorted(store.remove_absent("c", {"a", "b"}, "left")) == ["c", "d", "f", "g"]
    assert store.counts("c") == {"active": 2, "removed": 4, "failed": 1}
    assert store.get_many("c", ["d"])["d"].error == "left"
