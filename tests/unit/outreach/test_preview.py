"""The Markdown preview of a dry run (no Airflow): from a real dry run of the batch loop, and
from hand-written rows for what the loop does not produce yet (variants, sequence steps)."""

from __future__ import annotations

import pytest

from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.outreach.batch import BatchRun, prepare_items
from airflow_provider_connectsafely.outreach.delivery import GuardedSender
from airflow_provider_connectsafely.outreach.preview import campaign_preview


@pytest.fixture
def store(tmp_path):
    ledger = SendLedger.sqlite(tmp_path / "l.sqlite")
    yield ledger
    ledger.close()


def dry_run(rows, store, *, account_id=None) -> dict:
    items = prepare_items(
        rows, lambda r: (f"Hi {r.get('first', 'there')}", None), campaign="c", account_id=account_id
    )
    batch = BatchRun(None)
    return batch.report(batch.dry_run(items, store.get_many(i.key for i in items if i.key)), dry_run=True)


def test_counts_messages_and_lists_who_gets_nothing_and_why(store):
    # bob was sent before: the dry run reports him as already sent.
    sent = prepare_items([{"recipient_profile_id": "bob"}], lambda r: ("Hi", None), campaign="c")
    BatchRun(GuardedSender(lambda request: {"success": True}, store, daily_limit=0)).send_all(sent, {})
    rows = [
        {"recipient_profile_id": "ann", "first": "Ann"},
        {"recipient_profile_id": "bob", "first": "Bob"},
        {"nobody": 1},
        {"recipient_profile_id": "cy", "first": "Cy"},
    ]
    text = campaign_preview(dry_run(rows, store, account_id="acct-1"), messages=1)

    assert "**2 message(s) would go out** to 4 recipient(s) offered; 2 would get nothing." in text
    assert "| Account | Messages |\n| --- | --- |\n| acct-1 | 2 |" in text
    assert "Variant" not in text  # no row names a variant
    assert "### The first 1 of 2 message(s)" in text
    assert "**To ann** (from acct-1)\n\n```text\nHi Ann\n```" in text
    assert "Hi Cy" not in text  # only the first message is shown
    assert "### Not sent (2)" in text
    failed, skipped = [line for line in text.splitlines() if line.startswith("| ")][-2:]
    assert failed.startswith("| {'nobody': 1} | invalid | ") and "recipient" in failed
    assert skipped == "| bob | already sent | already sent |"


def test_counts_per_account_and_variant_when_rows_carry_a_variant():
    outcomes = [
        {"recipient": f"p{n}", "status": "would_send", "message": "Hi", "account": acct, "variant": variant}
        for n, (acct, variant) in enumerate([("a1", "a"), ("a1", "b"), ("a1", "a"), ("a2", "b")])
    ]
    text = campaign_preview({"summary": {"dry_run": True}, "outcomes": outcomes})
    table = ["| Account | Variant | Messages |", "| --- | --- | --- |", "| a1 | a | 2 |", "| a1 | b | 1 |"]
    assert "\n".join([*table, "| a2 | b | 1 |"]) in text
    assert "**To p0** (from a1; variant a)" in text


def test_sequence_rows_show_their_step_and_a_connect_note():
    outcomes = [
        {"recipient": "ann", "account": "default", "state": "active", "status": "would_send", "step": 1,
         "message": "Hello"},
        {"recipient": "bob", "account": "default", "state": "active", "status": "would_send", "step": 1,
         "action": "connect", "note": "Let's connect"},
        {"recipient": "cy", "account": "default", "state": "replied", "status": "replied"},
    ]  # fmt: skip
    text = campaign_preview({"summary": {"dry_run": True, "campaign": "x"}, "outcomes": outcomes}, title="x")
    assert text.startswith("## x\n")
    assert "**To ann** (from default; step 1)" in text
    assert "```text\nLet's connect\n```" in text
    assert "| cy | replied |  |" in text


def test_message_text_is_shown_verbatim_and_table_cells_cannot_break_out():
    outcomes = [
        {"recipient": "ann", "status": "would_send", "message": "Use ```code``` | *not bold*"},
        {"recipient": "b|o<b>", "status": "failed", "reason": "bad\nrow | here"},
    ]
    text = campaign_preview({"summary": {"dry_run": True}, "outcomes": outcomes})
    assert "````text\nUse ```code``` | *not bold*\n````" in text
    assert "| b\\|o\\<b\\> | invalid | bad row \\| here |" in text


def test_long_lists_are_bounded_and_say_how_many_more():
    outcomes = [{"recipient": f"p{n}", "status": "skipped", "reason": "already sent"} for n in range(7)]
    text = campaign_preview({"summary": {"dry_run": True}, "outcomes": outcomes}, skipped=3)
    assert "Nothing would be sent." in text
    assert text.count("| already sent |") == 3
    assert "... and 4 more (every row is in the dry run's XCom)." in text


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "got NoneType"),
        ({"outcomes": "x"}, "got dict"),
        ({"summary": {"dry_run": False}, "outcomes": []}, "the result of a real send"),
    ],
)
def test_anything_but_a_dry_runs_result_is_refused_with_the_fix(value, words):
    with pytest.raises(ValueError, match=words) as raised:
        campaign_preview(value)
    assert "dry_run=True" in str(raised.value)
