"""Several accounts per campaign and connect steps on the batch and sequence operators, against
the emulator over loopback (the ledger is each test's own SQLite file)."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest

from airflow_provider_connectsafely.compat import TaskDeferred
from airflow_provider_connectsafely.operators.batch import SendLinkedInMessageBatchOperator
from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

CONNECT = "POST /linkedin/connect"
RELATIONSHIP = "GET /linkedin/relationship/{profileId}"
PEOPLE = [{"recipient_profile_id": name, "first": name.title()} for name in ("ann", "bo", "cy")]


def context(run_id: str = "r1") -> dict:
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id=run_id, map_index=-1, try_number=1)
    ti.xcom_push = lambda key, value: setattr(ti, f"xcom_{key}", value)
    return {"ti": ti, "run_id": run_id}


def accounts(emulator) -> list[str]:
    return [a.id for a in emulator.state.accounts]


def sender_of(emulator) -> dict[str, str]:
    """Each recipient's sending accounts (messages and invitations), as the emulator saw them."""
    found: dict[str, set[str]] = {}
    for record in emulator.requests():
        body = record.get("body") or {}
        who = body.get("recipientProfileId") or body.get("profileId")
        if who and record["status"] == 200:
            found.setdefault(who, set()).add(body.get("accountId"))
    return {who: ",".join(sorted(ids)) for who, ids in found.items()}


def sequence(**kwargs) -> LinkedInSequenceOperator:
    kwargs.setdefault("task_id", "seq")
    kwargs.setdefault("campaign", "intro")
    kwargs.setdefault("recipients", PEOPLE)
    kwargs.setdefault(
        "steps",
        [
            SequenceStep(action="connect", note="Hi {{ recipient.first }}, let's connect"),
            SequenceStep("Thanks for connecting, {{ recipient.first }}!"),
            SequenceStep("A follow-up for {{ recipient.first }}"),
        ],
    )
    kwargs.setdefault("stop_on_reply", False)
    return LinkedInSequenceOperator(**kwargs)


def test_parse_time_checks_of_accounts_and_steps():
    with pytest.raises(ValueError, match=r"account_id .* or account_ids"):
        sequence(account_id="a", account_ids=["b"])
    with pytest.raises(ValueError, match="warmup ramps up the caps of account_ids"):
        SendLinkedInMessageBatchOperator(
            task_id="b", recipients=["x"], message="m", warmup={"start": 5, "days": 5}
        )
    with pytest.raises(ValueError, match="warmup"):
        sequence(account_ids=["a"], warmup={"start": 0, "days": 5})
    with pytest.raises(ValueError, match="give its text as note="):
        SequenceStep("hello", action="connect")
    with pytest.raises(ValueError, match="belong to a connect step"):
        SequenceStep("hello", give_up_after=timedelta(days=3))
    assert "account_ids" in sequence(account_ids=["a", "b"]).template_fields


def test_connect_then_message_after_acceptance_then_follow_up_from_the_same_account(connection):
    first, second = accounts(connection)
    op = sequence(account_ids=[first, second])

    invited = op.execute(context("r1"))
    assert invited["summary"]["sent_per_step"] == {"1": 3}
    assert connection.request_counts()[CONNECT] == 3
    owners = sender_of(connection)
    assert set(owners.values()) == {first, second}  # spread over both accounts

    # Nobody accepted yet: the message waits, with one relationship read per person.
    waiting = op.execute(context("r2"))
    assert waiting["summary"]["sent"] == 0
    reasons = {o["recipient"]: o.get("reason") for o in waiting["outcomes"]}
    assert reasons["ann"] == "waiting for the connection request to be accepted"
    assert connection.request_counts()[RELATIONSHIP] == 3 + 3  # the skip check, then this run

    connection.accept_invitation("ann", account_id=owners["ann"])
    thanked = op.execute(context("r3"))
    assert thanked["summary"]["sent_per_step"] == {"2": 1}
    followed = op.execute(context("r4"))
    assert followed["summary"]["sent_per_step"] == {"3": 1}
    texts = [m["message"] for m in connection.messages() if m["recipientProfileId"] == "ann"]
    assert texts == ["Thanks for connecting, Ann!", "A follow-up for Ann"]
    assert sender_of(connection)["ann"] == owners["ann"]  # the same person all along
    invite = next(r for r in connection.requests() if r["body"] and r["body"].get("profileId") == "ann")
    assert invite["body"]["customMessage"] == "Hi Ann, let's connect"


def test_an_invitation_never_accepted_ends_the_enrolment(connection):
    steps = [
        SequenceStep(action="connect", give_up_after=timedelta(seconds=1)),
        SequenceStep("Thanks for connecting"),
    ]
    op = sequence(recipients=PEOPLE[:1], steps=steps)
    op.execute(context("r1"))
    time.sleep(1.2)
    result = op.execute(context("r2"))
    [ann] = result["outcomes"]
    assert ann["state"] == "finished" and ann["error"].startswith(
        "connection request not accepted within 0:00:01 (invited "
    )
    assert connection.messages() == []
    assert op.execute(context("r3"))["summary"]["sent"] == 0  # finished stays finished


def test_a_connected_person_skips_the_connect_step(connection):
    first = accounts(connection)[0]
    import requests

    requests.post(
        connection.url + "/linkedin/connect",
        json={"profileId": "bo", "accountId": first},
        headers={"Authorization": f"Bearer {connection.state._api_key}"},
        timeout=5,
    )
    connection.accept_invitation("bo", account_id=first)
    op = sequence(recipients=PEOPLE[1:2], account_id=first)

    assert op.execute(context("r1"))["outcomes"][0]["status"] == "skipped"
    assert connection.request_counts()[CONNECT] == 1  # only the one above
    assert op.execute(context("r2"))["summary"]["sent_per_step"] == {"2": 1}


def test_an_account_reported_unavailable_gets_no_one(connection):
    first, second = accounts(connection)
    connection.set_account_status(first, "ERROR")
    try:
        batch = SendLinkedInMessageBatchOperator(
            task_id="b", recipients=PEOPLE, message="Hi {{ recipient.first }}", account_ids=[first, second]
        )
        result = batch.execute(context())
    finally:
        connection.set_account_status(first, "active")
    assert result["summary"]["sent"] == 3
    assert set(sender_of(connection).values()) == {second}


def test_each_account_keeps_its_own_cap_and_the_batch_waits_for_the_rest(connection):
    first, second = accounts(connection)
    people = [{"recipient_profile_id": f"p{n}"} for n in range(5)]
    batch = SendLinkedInMessageBatchOperator(
        task_id="b", recipients=people, message="Hi", account_ids=[first, second], daily_limit=2
    )
    with pytest.raises(TaskDeferred):
        batch.execute(context())
    assert len(connection.messages()) == 4
    per_account = [m["accountId"] for m in connection.messages()]
    assert per_account.count(first) == 2 and per_account.count(second) == 2


def test_the_funnels_bookkeeping_acceptance_and_skips(connection, isolated_default_ledger):
    """What the ledger page counts, as the runs record it: acceptance of the sequence's own
    invitation, a connect step skipped for a person already connected, a step held by a cap."""
    from airflow_provider_connectsafely.ledger.funnel import campaign_funnel
    from airflow_provider_connectsafely.ledger.sequences import SequenceStore
    from airflow_provider_connectsafely.ledger.store import SendLedger

    first = accounts(connection)[0]
    import requests

    requests.post(
        connection.url + "/linkedin/connect",
        json={"profileId": "bo", "accountId": first},
        headers={"Authorization": f"Bearer {connection.state._api_key}"},
        timeout=5,
    )
    connection.accept_invitation("bo", account_id=first)
    op = sequence(recipients=PEOPLE[:2], account_id=first)
    op.execute(context("r1"))  # ann invited, bo skipped (connected)
    connection.accept_invitation("ann", account_id=first)
    op.execute(context("r2"))  # step 2 to both

    ledger = SendLedger.sqlite(isolated_default_ledger)
    try:
        people = SequenceStore(ledger).get_many("intro", ["ann", "bo"])
        assert people["ann"].accepted_at is not None and people["ann"].skip_reason is None
        assert people["bo"].accepted_at is None and people["bo"].skip_reason == "already connected"
        found = campaign_funnel(ledger, "sequence:intro")
        assert (found["connection_requests_sent"], found["accepted"], found["acceptance_rate"]) == (1, 1, 1.0)
        assert found["skipped"]["already connected"] == 1
        assert [s["sent"] for s in found["steps"]] == [2, 2]
    finally:
        ledger.close()

    capped = sequence(campaign="capped", recipients=PEOPLE[2:], account_id=first, weekly_limit=1)
    with pytest.raises(TaskDeferred):
        capped.execute(context("r3"))  # the week's one request went to ann
    ledger = SendLedger.sqlite(isolated_default_ledger)
    try:
        assert SequenceStore(ledger).get_many("capped", ["cy"])["cy"].skip_reason == "cap"
    finally:
        ledger.close()


def test_a_full_weekly_cap_costs_no_request_for_the_accounts_other_people(connection):
    """Found by the soak run (tests/soak): with the weekly cap reached, every later run read the
    relationship of each person still to invite before finding the cap full again, hundreds
    of requests an hour against the API's per-key rate for invitations that could not go."""
    first = accounts(connection)[0]
    op = sequence(account_id=first, weekly_limit=1, on_limit="skip")
    from airflow_provider_connectsafely.compat import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="Weekly limit of 1 connection requests reached"):
        op.execute(context("r1"))
    assert connection.request_counts()[CONNECT] == 1
    # the skip check of the one invited, then of the next one, who finds the cap full; not the third
    assert connection.request_counts()[RELATIONSHIP] == 2
    with pytest.raises(AirflowSkipException):
        op.execute(context("r2"))
    assert connection.request_counts()[RELATIONSHIP] == 2 + 1 + 1  # ann's acceptance, then bo's check
