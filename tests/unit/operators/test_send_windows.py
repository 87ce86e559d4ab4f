"""Sending windows on the operators: checked when the DAG is parsed and before any request,
then waited for as ``on_limit`` says (the emulator over loopback; windows built around now)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from helpers.send_windows import clock_range, every_day

from airflow_provider_connectsafely.compat import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    TaskDeferred,
)
from airflow_provider_connectsafely.operators.messaging import (
    SendLinkedInMessageBatchOperator,
    SendLinkedInMessageOperator,
)
from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

OPEN = every_day("00:00-24:00")
HOUR = timedelta(hours=1)


def closed_for_two_hours() -> tuple[str, datetime]:
    """A window (on the UTC clock) that opens two hours from now, and that moment."""
    now = datetime.now(timezone.utc)
    return every_day(clock_range("UTC", 2 * HOUR, HOUR, at=now)), (now + 2 * HOUR).replace(microsecond=0)


def context(run_id: str = "w1") -> dict:
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id=run_id, map_index=-1, try_number=1)
    ti.xcom_push = lambda key, value: setattr(ti, f"xcom_{key}", value)
    return {"ti": ti, "run_id": run_id}


def message(**kwargs) -> SendLinkedInMessageOperator:
    kwargs.setdefault("task_id", "t")
    kwargs.setdefault("recipient_profile_id", "win-wendy")
    return SendLinkedInMessageOperator(message="hi", **kwargs)


# -- when the DAG is parsed -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"send_window": "weekdays 9 to 5"}, "Invalid `send_window`"),
        ({"send_window": OPEN, "timezone": "Europe"}, "Invalid `timezone`: 'Europe' is not"),
        ({"timezone": "Europe/Berlin"}, "apply only with send_window"),
    ],
)
def test_bad_window_arguments_fail_when_the_dag_is_parsed(kwargs, words):
    with pytest.raises(ValueError, match=words):
        message(**kwargs)
    with pytest.raises(ValueError, match=words):
        SendLinkedInMessageBatchOperator(task_id="b", recipients=["x"], message="hi", **kwargs)


def test_templated_window_arguments_wait_for_rendering():
    op = message(send_window="{{ params.window }}", timezone="{{ params.tz }}")
    assert {"send_window", "timezone"} <= set(op.template_fields)
    batch = SendLinkedInMessageBatchOperator(
        task_id="b", recipients=["x"], message="hi", send_window=OPEN, timezone_field="timezone"
    )
    assert {"send_window", "timezone"} <= set(batch.template_fields)


def test_timezone_field_needs_a_window_and_a_name():
    with pytest.raises(ValueError, match="apply only with send_window"):
        SendLinkedInMessageBatchOperator(task_id="b", recipients=["x"], message="hi", timezone_field="tz")
    with pytest.raises(ValueError, match="timezone_field must name a key"):
        LinkedInSequenceOperator(
            task_id="s",
            campaign="c",
            recipients=["x"],
            steps=[SequenceStep("hi")],
            send_window=OPEN,
            timezone_field=" ",
        )


def test_a_batch_window_needs_the_ledger():
    with pytest.raises(ValueError, match="send_window needs the send ledger"):
        SendLinkedInMessageBatchOperator(
            task_id="b", recipients=["x"], message="hi", send_window=OPEN, use_ledger=False
        )
    SendLinkedInMessageBatchOperator(
        task_id="b", recipients=["x"], message="hi", send_window=OPEN, use_ledger=False, dry_run=True
    )


# -- when the task runs ------------------------------------------------------------------


def test_an_open_window_sends(connection):
    answer = message(send_window=OPEN, timezone="Asia/Tokyo").execute(context())
    assert answer["success"] is True and len(connection.messages()) == 1


def test_a_closed_window_defers_until_it_opens_without_a_request(connection):
    window, opens = closed_for_two_hours()
    with pytest.raises(TaskDeferred) as info:
        message(send_window=window, max_defer=60).execute(context())
    assert info.value.trigger.moment == opens + timedelta(seconds=1)
    assert info.value.method_name == "execute_complete"
    # Not a limit: the wait is not bounded by max_defer, nor counted toward it afterwards.
    assert info.value.kwargs == {"deferred_since": None}
    assert connection.requests() == []


def test_on_limit_skip_and_fail_apply_to_a_closed_window(connection):
    window, opens = closed_for_two_hours()
    with pytest.raises(AirflowSkipException, match=r"send window .* is closed .*on_limit='skip'"):
        message(send_window=window, on_limit="skip").execute(context())
    with pytest.raises(AirflowException) as info:
        message(send_window=window, on_limit="fail").execute(context())
    assert type(info.value) is AirflowException  # as for the daily cap: Airflow may retry
    assert f"opens at {opens.isoformat()}" in str(info.value)
    assert connection.requests() == []


def test_a_bad_rendered_time_zone_fails_without_retries_before_any_request(connection):
    op = message(send_window=OPEN, timezone="{{ params.tz }}")
    op.timezone = "Mars/Olympus"  # as rendered
    with pytest.raises(AirflowFailException, match=r"Invalid `timezone`: 'Mars/Olympus' is not an IANA"):
        op.execute(context())
    op = message(send_window="{{ params.window }}")
    op.send_window = "Mon-Fri"
    with pytest.raises(AirflowFailException, match=r"Invalid `send_window`: 'Mon-Fri'"):
        op.execute(context())
    assert connection.requests() == []


def test_a_rerun_of_a_sent_task_needs_no_window(connection):
    assert message(send_window=OPEN).execute(context("sent-once"))["success"] is True
    window, _opens = closed_for_two_hours()
    answer = message(send_window=window).execute(context("sent-once"))
    assert answer["success"] is True and len(connection.requests()) == 1


def test_a_batch_sends_to_open_windows_and_defers_for_the_rest(connection):
    now = datetime.now(timezone.utc)
    # Open on the UTC clock for an hour either side of now; Tokyo's clock is 9 hours ahead.
    window = every_day(clock_range("UTC", -HOUR, 2 * HOUR, at=now))
    op = SendLinkedInMessageBatchOperator(
        task_id="b",
        recipients=[
            {"recipient_profile_id": "utc-uma", "tz": "UTC"},
            {"recipient_profile_id": "tokyo-taro", "tz": "Asia/Tokyo"},
            {"recipient_profile_id": "mars-max", "tz": "Mars/Olympus"},
            {"recipient_profile_id": "plain-pat"},
        ],
        message="hi",
        campaign="windows",
        send_window=window,
        timezone_field="tz",
        max_failures=1,
    )
    with pytest.raises(TaskDeferred) as info:
        op.execute(context())
    assert sorted(m["recipientProfileId"] for m in connection.messages()) == ["plain-pat", "utc-uma"]
    tokyo_opens = (now - HOUR).replace(microsecond=0) + timedelta(hours=24 - 9)  # its clock at the start
    assert info.value.trigger.moment == tokyo_opens + timedelta(seconds=1)


def test_a_batch_dry_run_shows_closed_windows(connection):
    window, _opens = closed_for_two_hours()
    op = SendLinkedInMessageBatchOperator(
        task_id="b", recipients=["dry-dan"], message="hi", send_window=window, dry_run=True
    )
    (outcome,) = op.execute(context())["outcomes"]
    assert outcome["status"] == "would_send" and outcome["reason"].startswith("outside the send window until")
    assert connection.requests() == []


def test_a_sequence_defers_due_steps_outside_the_window(connection):
    window, opens = closed_for_two_hours()
    op = LinkedInSequenceOperator(
        task_id="s",
        campaign="windows-seq",
        recipients=["seq-sam"],
        steps=[SequenceStep("Hi")],
        send_window=window,
        stop_on_reply=False,
    )
    with pytest.raises(TaskDeferred) as info:
        op.execute(context())
    assert info.value.trigger.moment == opens + timedelta(seconds=1)
    assert connection.requests() == []
