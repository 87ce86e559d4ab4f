"""Message variants through the batch and sequence operators (the emulator over loopback, a
real SQLite ledger, Airflow's Jinja rendering)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_connectsafely.ledger import locate
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.operators.batch import SendLinkedInMessageBatchOperator
from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep
from airflow_provider_connectsafely.outreach.variants import choose

PEOPLE = [{"recipient_profile_id": f"person-{n}", "first": f"P{n}"} for n in range(10)]
VARIANTS = {"short": "Hi {{ recipient.first }}", "long": "Hello {{ recipient.first }}, {{ recipient.bio }}"}
WEIGHTS = {"short": 1, "long": 2}


def context(run_id: str = "r1") -> dict:
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id=run_id, map_index=-1, try_number=1)
    ti.xcom_push = lambda key, value: setattr(ti, f"xcom_{key}", value)
    return {"ti": ti, "run_id": run_id}


def batch(**kwargs) -> SendLinkedInMessageBatchOperator:
    kwargs.setdefault("recipients", PEOPLE)
    return SendLinkedInMessageBatchOperator(
        task_id="ab", campaign="spring", message_variants=VARIANTS, variant_weights=WEIGHTS, **kwargs
    )


def test_the_batch_sends_each_person_their_variant_and_counts_the_sends_per_variant(connection):
    result = batch().execute(context())

    chosen = {p["recipient_profile_id"]: choose(WEIGHTS, "spring", p["recipient_profile_id"]) for p in PEOPLE}
    texts = {m["recipientProfileId"]: m["message"] for m in connection.messages()}
    assert {who: text.startswith("Hello") for who, text in texts.items()} == {
        who: variant == "long" for who, variant in chosen.items()
    }
    assert {o["recipient"]: o["variant"] for o in result["outcomes"]} == chosen
    counted = {
        r["variant"]: (r["sent"], r["replied"], r["ci95"]) for r in result["summary"]["variant_results"]
    }
    assert counted == {v: (list(chosen.values()).count(v), None, None) for v in set(chosen.values())}
    ledger = SendLedger.sqlite(locate.default_ledger_path())  # the variant is recorded with each send
    rows = ledger.get_many(f"campaign:spring:{who}" for who in chosen)
    ledger.close()
    assert {row.recipient: row.variant for row in rows.values()} == chosen

    again = batch().execute(context("r2"))  # a rerun sends nothing and keeps the counts
    assert (
        again["summary"]["sent"] == 0
        and again["summary"]["variant_results"] == result["summary"]["variant_results"]
    )


def test_a_dry_run_checks_every_variant_for_every_person_and_counts_per_account_and_variant(connection):
    people = [*PEOPLE, {"recipient_profile_id": "wordy", "first": "W", "bio": "x" * 8000}]
    result = batch(recipients=people, dry_run=True, max_failures=1).execute(context())

    by = {o["recipient"]: o for o in result["outcomes"]}
    assert by["wordy"]["status"] == "failed"  # whichever variant it would get
    assert "Invalid `message_variants['long']`" in by["wordy"]["reason"]
    would = [o for o in result["outcomes"] if o["status"] == "would_send"]
    assert all(o["variant"] == choose(WEIGHTS, "spring", o["recipient"]) for o in would)
    assert {o["account"] for o in would} == {"default"}
    counts = result["summary"]["would_send_by_account_variant"]
    assert sum(row["would_send"] for row in counts) == len(PEOPLE)
    assert [(r["account"], r["step"], r["variant"]) for r in counts] == [
        ("default", None, v) for v in sorted({o["variant"] for o in would})
    ]
    assert connection.requests() == []


def test_variant_arguments_are_checked_when_the_dag_is_parsed():
    with pytest.raises(ValueError, match=r"message= .* or message_variants="):
        SendLinkedInMessageBatchOperator(
            task_id="t", recipients=["a"], message="m", message_variants=VARIANTS
        )
    with pytest.raises(ValueError, match=r"message= .* or message_variants="):
        SendLinkedInMessageBatchOperator(task_id="t", recipients=["a"])
    with pytest.raises(
        ValueError, match=r"variant_weights must give a weight to each variant of message_variants"
    ):
        SendLinkedInMessageBatchOperator(
            task_id="t", recipients=["a"], message_variants=VARIANTS, variant_weights={"short": 1}
        )


def test_a_sequence_step_and_its_follow_up_each_have_their_own_variants(connection):
    steps = [
        SequenceStep(variants={"a": "A1 {{ recipient.first }}", "b": "B1 {{ recipient.first }}"}),
        SequenceStep(variants={"x": "X2", "y": "Y2"}, variant_weights={"x": 1, "y": 1}),
    ]
    op = LinkedInSequenceOperator(
        task_id="seq", campaign="ab-seq", recipients=PEOPLE, steps=steps, stop_on_reply=False
    )
    preview = LinkedInSequenceOperator(
        task_id="seq", campaign="ab-seq", recipients=PEOPLE, steps=steps, dry_run=True
    ).execute(context("r0"))
    first = op.execute(context("r1"))
    second = op.execute(context("r2"))  # step 2 has no wait: due at once

    names = [p["recipient_profile_id"] for p in PEOPLE]
    assert {o["recipient"]: o["variant"] for o in preview["outcomes"]} == {
        who: choose({"a": 1, "b": 1}, "ab-seq", who, 1) for who in names
    }
    assert {o["recipient"]: o["variant"] for o in first["outcomes"]} == {
        who: choose({"a": 1, "b": 1}, "ab-seq", who, 1) for who in names
    }
    assert {o["recipient"]: o["variant"] for o in second["outcomes"]} == {
        who: choose({"x": 1, "y": 1}, "ab-seq", who, 2) for who in names
    }
    results = second["summary"]["variant_results"]
    assert {(r["step"], r["variant"]) for r in results} >= {(1, "a"), (1, "b"), (2, "x"), (2, "y")}
    assert sum(r["sent"] for r in results) == 2 * len(PEOPLE)
    assert all(r["replied"] == 0 and r["ci95"][0] == 0.0 for r in results)


def test_a_sequence_dry_run_counts_newcomers_per_account_they_would_be_given(connection):
    first, second = [a.id for a in connection.state.accounts][:2]
    steps = [SequenceStep(variants={"a": "A {{ recipient.first }}", "b": "B {{ recipient.first }}"})]
    preview = LinkedInSequenceOperator(
        task_id="seq",
        campaign="two",
        recipients=PEOPLE,
        steps=steps,
        account_ids=[first, second],
        dry_run=True,
    ).execute(context())

    outcomes = preview["outcomes"]
    assert {o["account"] for o in outcomes} == {first, second}  # spread as a real run would
    counts = preview["summary"]["would_send_by_account_variant"]
    assert sum(r["would_send"] for r in counts) == len(PEOPLE)
    for row in counts:
        assert row["would_send"] == sum(
            1 for o in outcomes if (o["account"], o["variant"]) == (row["account"], row["variant"])
        )
        assert row["step"] == 1
    assert connection.messages() == []


def test_reply_window_is_checked_when_the_dag_is_parsed():
    from datetime import timedelta

    steps = [SequenceStep("Hi")]
    with pytest.raises(ValueError, match="reply_window must be a timedelta > 0"):
        LinkedInSequenceOperator(task_id="s", campaign="c", recipients=PEOPLE, steps=steps, reply_window=14)
    with pytest.raises(ValueError, match="it needs stop_on_reply=True"):
        LinkedInSequenceOperator(
            task_id="s",
            campaign="c",
            recipients=PEOPLE,
            steps=steps,
            reply_window=timedelta(days=14),
            stop_on_reply=False,
        )
