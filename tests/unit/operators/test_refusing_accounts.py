"""An account that refuses (401/403) while another is active fails nobody (issue 17): the batch
and the sequence succeed whatever the order of the rows, the refused account's people wait for
a later run with the reason, and the task fails only once every account is out. Against the
emulator over loopback; the ledger is each test's own SQLite file."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from helpers.task_logs import captured_task_logs

from airflow_provider_connectsafely.clock import utc_now
from airflow_provider_connectsafely.compat import AirflowFailException
from airflow_provider_connectsafely.errors import AuthenticationError
from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook
from airflow_provider_connectsafely.ledger import NewSend
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.operators.batch import SendLinkedInMessageBatchOperator
from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

#: (the person the first account contacted before, a new person). The rows are ann then zoe
#: (a sequence sends its enrolments by name, so rows in that order keep both in step).
ORDERS = {"its person first": ("ann", "zoe"), "a new person first": ("zoe", "ann")}
REFUSED = "Invalid or revoked API key"


def context(run_id: str = "r1") -> dict:
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id=run_id, map_index=-1, try_number=1)
    ti.xcom_push = lambda key, value: setattr(ti, f"xcom_{key}", value)
    return {"ti": ti, "run_id": run_id}


def accounts(emulator) -> list[str]:
    return [a.id for a in emulator.state.accounts]


def refuse(emulator, account: str) -> None:
    """``account``'s sends answer 401 until the faults are cleared."""
    emulator.inject(
        "error", status=401, shape="error", message=REFUSED, count=100, match={"accountId": account}
    )


def refuse_reads(monkeypatch, account: str, method: str) -> None:
    """The hook's ``method`` (a read) answers 401 for ``account``: the emulator's faults match
    only the bodies of sends, so this one read is patched."""
    original = getattr(ConnectSafelyHook, method)

    def refusing(self, *args, **kwargs):
        if kwargs.get("account_id", args[1] if len(args) > 1 else None) == account:
            raise AuthenticationError(401, REFUSED)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ConnectSafelyHook, method, refusing)


@pytest.fixture
def belongs_to(isolated_default_ledger):
    """``belongs_to(account, person)``: ``account`` messaged ``person`` a month ago, in another
    campaign (the ledger ties them; today's counts stay 0, so the accounts tie for new people)."""

    def record(account: str, person: str) -> None:
        month_ago = utc_now() - timedelta(days=30)
        ledger = SendLedger.sqlite(isolated_default_ledger, clock=lambda: month_ago)
        try:
            key = f"campaign:autumn:{person}"
            ledger.mark_sent(key, ledger.claim(NewSend(key, account, person)).token, {})
        finally:
            ledger.close()

    return record


def senders(emulator) -> dict[str, list[str]]:
    """The accounts each person got a message from, in order."""
    found: dict[str, list[str]] = {}
    for message in emulator.messages():
        found.setdefault(message["recipientProfileId"], []).append(message["accountId"])
    return found


def batch(account_ids: list[str]) -> SendLinkedInMessageBatchOperator:
    return SendLinkedInMessageBatchOperator(
        task_id="b",
        recipients=[{"recipient_profile_id": n} for n in ("ann", "zoe")],
        message="Hi",
        campaign="spring",
        account_ids=account_ids,
    )


def sequence(account_ids: list[str], steps: list[SequenceStep] | None = None) -> LinkedInSequenceOperator:
    return LinkedInSequenceOperator(
        task_id="s",
        campaign="intro",
        recipients=[{"recipient_profile_id": n} for n in ("ann", "zoe")],
        account_ids=account_ids,
        steps=steps or [SequenceStep("Hi"), SequenceStep("A follow-up", wait=timedelta(days=3))],
    )


def by_recipient(result: dict) -> dict[str, dict]:
    return {o["recipient"]: o for o in result["outcomes"]}


# -- the batch ------------------------------------------------------------------------------


@pytest.mark.parametrize(("own", "new"), ORDERS.values(), ids=ORDERS)
def test_a_refusing_account_does_not_fail_the_batch(connection, belongs_to, own, new):
    first, second = accounts(connection)
    belongs_to(first, own)
    refuse(connection, first)

    with captured_task_logs() as lines:
        result = batch([first, second]).execute(context())

    outcomes = by_recipient(result)
    assert outcomes[new]["status"] == "sent"
    assert outcomes[own]["status"] == "not_attempted"
    reason = outcomes[own]["reason"]
    assert reason.startswith(f"its account {first} (which contacted them first) is out of rotation: ")
    assert "AuthenticationError" in reason and "401" in reason and REFUSED in reason
    assert result["summary"]["sent"] == 1 and result["summary"]["not_attempted"] == 1
    assert senders(connection) == {new: [second]}  # nobody moved to another account
    logged = "\n".join(lines)
    assert f"LinkedIn account {first} is out of rotation for this run: AuthenticationError" in logged
    assert f"Recipient {own}: not_attempted: its account {first}" in logged

    # The next run, once the account answers again, sends from the person's own account.
    connection.clear_faults()
    again = by_recipient(batch([first, second]).execute(context("r2")))
    assert again[own]["status"] == "sent" and again[new]["status"] == "skipped"
    assert senders(connection) == {new: [second], own: [first]}


@pytest.mark.parametrize(("own", "new"), ORDERS.values(), ids=ORDERS)
def test_the_batch_fails_when_every_account_refuses(connection, belongs_to, own, new):
    first, second = accounts(connection)
    belongs_to(first, own)
    refuse(connection, first)
    refuse(connection, second)
    ctx = context()

    with pytest.raises(
        AirflowFailException, match="stopped at once: every LinkedIn account is out of rotation"
    ):
        batch([first, second]).execute(ctx)

    outcomes = by_recipient(ctx["ti"].xcom_outcomes)
    assert {who: o["status"] for who, o in outcomes.items()} == {own: "not_attempted", new: "failed"}
    assert "AuthenticationError" in outcomes[new]["reason"]
    assert connection.messages() == []


def test_the_batch_fails_when_its_only_account_refuses(connection):
    first = accounts(connection)[0]
    refuse(connection, first)
    ctx = context()
    with pytest.raises(AirflowFailException, match="stopped at once: every LinkedIn account is out"):
        batch([first]).execute(ctx)
    assert [o["status"] for o in ctx["ti"].xcom_outcomes["outcomes"]] == ["failed", "not_attempted"]


def test_the_batch_fails_when_every_account_is_reported_unavailable(connection):
    first, second = accounts(connection)
    for account in (first, second):
        connection.set_account_status(account, "ERROR")
    ctx = context()
    try:
        with pytest.raises(AirflowFailException, match="every LinkedIn account is out of rotation"):
            batch([first, second]).execute(ctx)
    finally:
        for account in (first, second):
            connection.set_account_status(account, "active")
    outcomes = ctx["ti"].xcom_outcomes["outcomes"]
    assert [o["status"] for o in outcomes] == ["not_attempted", "not_attempted"]
    assert "the API reports its status as ERROR" in outcomes[0]["reason"]
    assert connection.messages() == []


# -- the sequence ---------------------------------------------------------------------------


@pytest.mark.parametrize(("own", "new"), ORDERS.values(), ids=ORDERS)
def test_a_refusing_account_does_not_fail_the_sequence(connection, belongs_to, own, new):
    first, second = accounts(connection)
    belongs_to(first, own)
    refuse(connection, first)

    with captured_task_logs() as lines:
        result = sequence([first, second]).execute(context())

    outcomes = by_recipient(result)
    assert (outcomes[own]["status"], outcomes[own]["state"], outcomes[own]["account"]) == (
        "waiting",
        "active",
        first,
    )
    reason = outcomes[own]["reason"]
    assert reason.startswith(f"its account {first} is out of rotation: AuthenticationError")
    assert "401" in reason and REFUSED in reason
    # The account is chosen at enrolment, in row order: after the first account's own person
    # the second has more room; before them the two tie and the first listed gets the new
    # person, who then waits for it too (never moved).
    if own == "ann":
        assert (outcomes[new]["status"], outcomes[new]["account"]) == ("sent", second)
        assert senders(connection) == {new: [second]}
    else:
        assert (outcomes[new]["status"], outcomes[new]["account"]) == ("waiting", first)
        assert outcomes[new]["reason"] == reason
        assert connection.messages() == []
    assert result["summary"]["failed"] == 0
    assert f"LinkedIn account {first} is out of rotation for this run: AuthenticationError" in "\n".join(
        lines
    )

    # The next run, once the account answers again, sends step 1 from each person's account.
    connection.clear_faults()
    sequence([first, second]).execute(context("r2"))
    assert senders(connection)[own] == [first]
    assert senders(connection)[new] == [outcomes[new]["account"]]


@pytest.mark.parametrize("first_on", ["ann", "zoe"])
def test_the_sequence_fails_when_every_account_refuses(connection, belongs_to, first_on):
    first, second = accounts(connection)
    on_second = "zoe" if first_on == "ann" else "ann"
    belongs_to(first, first_on)
    belongs_to(second, on_second)
    refuse(connection, first)
    refuse(connection, second)
    ctx = context()

    with pytest.raises(
        AirflowFailException, match="stopped at once: every LinkedIn account is out of rotation"
    ):
        sequence([first, second]).execute(ctx)

    outcomes = by_recipient(ctx["ti"].xcom_outcomes)
    assert {who: (o["status"], o["state"], o["account"]) for who, o in outcomes.items()} == {
        first_on: ("waiting", "active", first),
        on_second: ("waiting", "active", second),
    }
    assert all("is out of rotation: AuthenticationError" in o["reason"] for o in outcomes.values())
    assert connection.messages() == []

    connection.clear_faults()  # the enrolments were kept: the next run sends step 1
    assert sequence([first, second]).execute(context("r2"))["summary"]["sent"] == 2
    assert senders(connection) == {first_on: [first], on_second: [second]}


def test_the_sequence_fails_when_its_only_account_refuses(connection):
    first = accounts(connection)[0]
    refuse(connection, first)
    ctx = context()
    with pytest.raises(AirflowFailException, match="stopped at once: every LinkedIn account is out"):
        sequence([first]).execute(ctx)
    assert [o["status"] for o in ctx["ti"].xcom_outcomes["outcomes"]] == ["waiting", "waiting"]


def test_an_account_refusing_to_read_replies_holds_only_its_own_people(connection, monkeypatch):
    first, second = accounts(connection)
    steps = [SequenceStep("Hi"), SequenceStep("A follow-up", wait=timedelta(seconds=1))]
    sequence([first, second], steps).execute(context("r1"))  # ann from the first, zoe the second
    time.sleep(1.1)
    refuse_reads(monkeypatch, first, "recent_replies")

    result = by_recipient(sequence([first, second], steps).execute(context("r2")))

    assert result["zoe"]["status"] == "sent" and result["zoe"]["step"] == 2
    assert result["ann"]["status"] == "waiting"  # her replies were not read: no follow-up
    assert result["ann"]["reason"].startswith(f"its account {first} is out of rotation: AuthenticationError")
    assert [m["message"] for m in connection.messages()] == ["Hi", "Hi", "A follow-up"]


def test_an_account_refusing_to_read_acceptance_holds_only_its_own_people(connection, monkeypatch):
    first, second = accounts(connection)
    steps = [SequenceStep(action="connect"), SequenceStep("Thanks for connecting")]
    sequence([first, second], steps).execute(context("r1"))  # ann invited by the first, zoe the second
    connection.accept_invitation("ann", account_id=first)
    connection.accept_invitation("zoe", account_id=second)
    refuse_reads(monkeypatch, first, "get_relationship")

    result = by_recipient(sequence([first, second], steps).execute(context("r2")))

    assert result["zoe"]["status"] == "sent" and result["ann"]["status"] == "waiting"
    assert result["ann"]["reason"].startswith(f"its account {first} is out of rotation: AuthenticationError")
    assert senders(connection) == {"zoe": [second]}
