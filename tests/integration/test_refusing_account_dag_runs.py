"""Issue 17 in real DAG runs (dag.test() against the emulator over loopback): with two accounts,
one answering 401, a sequence and then a batch to a person of that account and a new person
both succeed, whichever person comes first; both fail once every account refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers.dag_runs import load_dag, task_results

from airflow_provider_connectsafely.clock import utc_now
from airflow_provider_connectsafely.ledger import NewSend
from airflow_provider_connectsafely.ledger.store import SendLedger

DAG_ID = "connectsafely_test_refusing_account"


def contacted_a_month_ago(ledger_path, account: str, person: str) -> None:
    """``account`` messaged ``person`` in another campaign: the person belongs to it."""
    month_ago = utc_now() - timedelta(days=30)
    ledger = SendLedger.sqlite(ledger_path, clock=lambda: month_ago)
    try:
        key = f"campaign:autumn:{person}"
        ledger.mark_sent(key, ledger.claim(NewSend(key, account, person)).token, {})
    finally:
        ledger.close()


def refuse(emulator, account: str) -> None:
    """``account``'s sends answer 401."""
    emulator.inject(
        "error", status=401, shape="error", message="Invalid API key", count=50, match={"accountId": account}
    )


def outcomes(result: dict) -> dict[str, tuple[str, str | None]]:
    return {o["recipient"]: (o["status"], o.get("account")) for o in result["outcomes"]}


# The rows are ann, then zoe: ``own`` is the one the first account contacted before.
@pytest.mark.parametrize(
    ("own", "new"), [("ann", "zoe"), ("zoe", "ann")], ids=["its person first", "a new person first"]
)
def test_an_account_that_refuses_fails_neither_the_sequence_nor_the_batch(
    connection, airflow_db, isolated_default_ledger, own, new
):
    first, second = (a.id for a in connection.state.accounts)
    contacted_a_month_ago(isolated_default_ledger, first, own)
    refuse(connection, first)

    results = task_results(load_dag(DAG_ID).test())

    sequence_state, sequence = results[("sequence", -1)]
    assert sequence_state == "success"
    # Enrolled in row order with the account with the most room: after the first account's
    # own person that is the second account; before them the two tie and the first listed
    # takes the new person, who then waits for it as well.
    new_account = second if own == "ann" else first
    assert outcomes(sequence) == {
        own: ("waiting", first),
        new: ("sent" if new_account == second else "waiting", new_account),
    }

    batch_state, batch = results[("batch", -1)]
    assert batch_state == "success"
    assert outcomes(batch) == {own: ("not_attempted", None), new: ("sent", None)}
    reason = next(o["reason"] for o in batch["outcomes"] if o["recipient"] == own)
    assert reason.startswith(f"its account {first} (which contacted them first) is out of rotation: ")

    assert {(m["recipientProfileId"], m["accountId"]) for m in connection.messages()} == {(new, second)}


def test_both_tasks_fail_when_every_account_refuses(connection, airflow_db, isolated_default_ledger):
    first, second = (a.id for a in connection.state.accounts)
    contacted_a_month_ago(isolated_default_ledger, first, "ann")
    refuse(connection, first)
    refuse(connection, second)

    results = task_results(load_dag(DAG_ID).test())

    assert results[("sequence", -1)][0] == "failed"
    assert results[("batch", -1)][0] == "failed"
    assert connection.messages() == []
