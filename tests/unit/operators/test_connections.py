"""The connection request operator: parameters, validation, the ledger, the weekly cap and
error mapping, run with ``execute`` against the emulator over loopback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from helpers.connections import API_KEY

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.compat import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    TaskDeferred,
)
from airflow_provider_connectsafely.operators.connections import SendLinkedInConnectionRequestOperator

CONNECT = "POST /linkedin/connect"
RELATIONSHIP = "GET /linkedin/relationship/{profileId}"


def operator(**kwargs) -> SendLinkedInConnectionRequestOperator:
    kwargs.setdefault("task_id", "connect")
    return SendLinkedInConnectionRequestOperator(**kwargs)


def test_template_fields_and_defaults():
    assert set(SendLinkedInConnectionRequestOperator.template_fields) == {
        "note",
        "recipient_profile_id",
        "recipient_profile_urn",
        "account_id",
        "connectsafely_conn_id",
        "dedupe_key",
        "ledger_conn_id",
        "send_window",
        "timezone",
    }
    op = operator(recipient_profile_id="x")
    assert op.weekly_limit == defaults.WEEKLY_CONNECT_LIMIT == 90
    assert op.skip_if_connected is True and op.on_limit == "defer"
    assert op.max_defer == defaults.CONNECT_MAX_DEFER > timedelta(days=7)


def test_construction_reads_no_connection_and_refuses_message_parameters(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", raising=False)
    op = operator(recipient_profile_id="x", connectsafely_conn_id="does_not_exist")
    assert "hook" not in op.__dict__
    with pytest.raises(ValueError, match=r"takes no daily_limit: .*use weekly_limit"):
        operator(recipient_profile_id="x", daily_limit=5)
    with pytest.raises(ValueError, match="message_type"):
        operator(recipient_profile_id="x", message_type="inmail")
    for bad in (-1, 1.5, True, "90"):
        with pytest.raises(ValueError, match="weekly_limit"):
            operator(recipient_profile_id="x", weekly_limit=bad)
    with pytest.raises(ValueError, match="on_limit"):
        operator(recipient_profile_id="x", on_limit="wait")


def test_sends_once_per_person_then_returns_the_recorded_answer(connection):
    answer = operator(recipient_profile_id="https://www.linkedin.com/in/olga/", note="Hi Olga").execute({})
    assert answer["success"] is True and answer["invitationId"]
    assert connection.request_counts() == {RELATIONSHIP: 1, CONNECT: 1}
    # Another task, another run: the same account and person, so the ledger says it went out.
    again = operator(task_id="later", recipient_profile_id="olga", note="Hello again").execute({})
    assert again == answer
    assert connection.request_counts() == {RELATIONSHIP: 1, CONNECT: 1}


def test_a_connected_person_gets_no_request(connection):
    operator(recipient_profile_id="pam").execute({})
    connection.accept_invitation("pam")
    result = operator(recipient_profile_id="pam", dedupe_key="pam-again").execute({})
    assert result["connected"] is True and result["status"] == "connected"
    assert "invitationId" not in result
    assert connection.request_counts() == {RELATIONSHIP: 2, CONNECT: 1}
    # Without the check, the API's refusal fails the task (no retries).
    with pytest.raises(AirflowFailException, match=r"BadRequestError.*Already connected") as info:
        operator(recipient_profile_id="pam", dedupe_key="pam-3", skip_if_connected=False).execute({})
    assert API_KEY not in str(info.value)
    assert connection.request_counts() == {RELATIONSHIP: 2, CONNECT: 2}


def test_a_note_too_long_fails_before_any_request(connection):
    with pytest.raises(AirflowFailException, match=r"Invalid `note`: 301 characters.*Fix: shorten"):
        operator(recipient_profile_id="quin", note="q" * 301).execute({})
    with pytest.raises(AirflowFailException, match="recipient_profile_urn"):
        operator(recipient_profile_urn="not-a-urn").execute({})
    assert connection.requests() == []


@pytest.mark.parametrize(
    ("on_limit", "raised"),
    [("skip", AirflowSkipException), ("fail", AirflowException), ("defer", TaskDeferred)],
)
def test_the_weekly_cap(connection, on_limit, raised):
    operator(recipient_profile_id="rob", weekly_limit=1).execute({})
    with pytest.raises(raised) as info:
        operator(recipient_profile_id="sam", weekly_limit=1, on_limit=on_limit).execute({})
    assert type(info.value) is raised
    if on_limit != "defer":
        assert "Weekly limit of 1 connection requests reached" in str(info.value)
    else:
        assert info.value.method_name == "execute_complete"
        moment = info.value.trigger.moment
        assert moment.weekday() == 0 and (moment.hour, moment.minute, moment.second) == (0, 0, 1)
    assert connection.request_counts()[CONNECT] == 1
    # No cap at all with weekly_limit=0.
    operator(recipient_profile_id="sam", weekly_limit=0).execute({})
    assert connection.request_counts()[CONNECT] == 2


def test_a_429_hold_defers_the_task(connection):
    # Faults fire on the next request: skip the relationship read so it is the connect.
    connection.inject("rate_limit_hold_until", seconds=7200)
    with pytest.raises(TaskDeferred) as info:
        operator(recipient_profile_id="tia", skip_if_connected=False).execute({})
    assert info.value.method_name == "execute_complete"
    assert connection.request_counts()[CONNECT] == 1


def test_a_request_that_may_have_gone_out_fails_without_retries(connection):
    connection.inject("error", status=500, shape="empty", deliver=True)
    with pytest.raises(AirflowFailException, match="DeliveryUnknownError"):
        operator(recipient_profile_id="uma", skip_if_connected=False).execute({})
    with pytest.raises(AirflowFailException, match="may or may not have been delivered"):
        operator(recipient_profile_id="uma").execute({})
    with pytest.raises(AirflowSkipException, match="on_unknown='skip'"):
        operator(recipient_profile_id="uma", on_unknown="skip").execute({})
    assert connection.request_counts()[CONNECT] == 1


def test_without_the_ledger_nothing_is_deduplicated(connection):
    operator(recipient_profile_id="val", use_ledger=False, skip_if_connected=False).execute({})
    # Sent again (the emulator refuses a second pending invitation): no ledger, no dedupe.
    with pytest.raises(AirflowFailException, match="Invitation already pending"):
        operator(recipient_profile_id="val", use_ledger=False, skip_if_connected=False).execute({})
    assert connection.request_counts() == {CONNECT: 2}


def test_mapped_operator_expands_over_people():
    from airflow.sdk import DAG

    with DAG("connect_mapping_shape", schedule=None):
        mapped = SendLinkedInConnectionRequestOperator.partial(task_id="m", note="Hi").expand(
            recipient_profile_id=["a", "b"]
        )
    assert mapped.partial_kwargs["note"] == "Hi"
    assert mapped.expand_input.value == {"recipient_profile_id": ["a", "b"]}


def test_a_closed_window_holds_the_request(connection):
    from helpers.send_windows import clock_range, every_day

    from airflow_provider_connectsafely.compat import TaskDeferred

    now = datetime.now(timezone.utc)
    closed = every_day(clock_range("UTC", timedelta(hours=2), timedelta(hours=1), at=now))
    with pytest.raises(TaskDeferred):
        operator(recipient_profile_id="wanda", send_window=closed).execute({})
    assert CONNECT not in connection.request_counts()
