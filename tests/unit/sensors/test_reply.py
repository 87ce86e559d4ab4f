"""LinkedInReplySensor without a DAG run: deferral, resume, poking against the emulator, and
what a DAG file pays to import it."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_connectsafely.compat import AirflowException, AirflowSkipException, TaskDeferred
from airflow_provider_connectsafely.sensors.reply import LinkedInReplySensor
from airflow_provider_connectsafely.triggers.replies import LinkedInReplyTrigger

URN = "urn:li:msg_conversation:2-" + "a" * 32
RUN_START = datetime(2026, 6, 1, 9, 30, tzinfo=timezone.utc)


def context(start: datetime = RUN_START) -> Any:
    return {"dag_run": SimpleNamespace(start_date=start), "ti": SimpleNamespace(start_date=start)}


def sensor(**kwargs: Any) -> LinkedInReplySensor:
    args: dict[str, Any] = {"task_id": "wait", "conversation_urn": URN, "poke_interval": 0.2, "timeout": 60}
    args.update(kwargs)
    return LinkedInReplySensor(**args)


def test_templated_fields():
    assert set(LinkedInReplySensor.template_fields) == {
        "conversation_urn",
        "since",
        "account_id",
        "connectsafely_conn_id",
    }


def test_defers_to_the_trigger_with_the_run_start_and_a_deadline():
    op = sensor(account_id="acc-1", connectsafely_conn_id="cs")
    before = datetime.now(timezone.utc)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, LinkedInReplyTrigger)
    assert deferred.value.method_name == "execute_complete"
    kwargs = trigger.serialize()[1]
    assert kwargs["conversation_urn"] == URN and kwargs["account_id"] == "acc-1" and kwargs["conn_id"] == "cs"
    assert kwargs["since"] == RUN_START.isoformat()
    assert kwargs["poke_interval"] == 0.2
    deadline = datetime.fromisoformat(kwargs["deadline"])
    assert before + timedelta(seconds=60) <= deadline <= datetime.now(timezone.utc) + timedelta(seconds=60)
    # Airflow's own deferral timeout is a backstop behind the trigger's deadline.
    assert deferred.value.timeout is not None and deferred.value.timeout > timedelta(seconds=60)


def test_explicit_since_wins():
    op = sensor(since="2026-06-01T10:00:00Z")
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    assert deferred.value.trigger.serialize()[1]["since"] == "2026-06-01T10:00:00+00:00"


def test_resume_returns_the_reply():
    reply = {"messageUrn": "urn:li:msg_message:1", "text": "yes", "conversationUrn": URN}
    op = sensor()
    event = {"status": "success", "reply": reply}
    assert op.resume_execution("execute_complete", {"event": event}, context()) == reply


def timeout_event() -> dict:
    return {"status": "timeout", "conversation_urn": URN, "since": "a", "deadline": "b"}


def test_resume_after_timeout_fails_or_skips_with_soft_fail():
    with pytest.raises(AirflowException, match="No reply") as failed:
        sensor().resume_execution("execute_complete", {"event": timeout_event()}, context())
    assert type(failed.value).__name__ == "AirflowSensorTimeout"
    with pytest.raises(AirflowSkipException):
        sensor(soft_fail=True).resume_execution("execute_complete", {"event": timeout_event()}, context())


def test_resume_after_an_error_event_fails():
    event = {"status": "error", "error": "AuthenticationError", "message": "bad key"}
    with pytest.raises(AirflowException, match="bad key"):
        sensor().resume_execution("execute_complete", {"event": event}, context())


def test_poke_finds_the_reply_after_since(connection):
    now = datetime.now(timezone.utc)
    urn = connection.reply(profile_id="ann-lee", text="old", at=now - timedelta(hours=1))["conversationUrn"]
    op = sensor(conversation_urn=urn, deferrable=False)
    assert op.poke(context(now - timedelta(minutes=1))) is False
    made = connection.reply(conversation_urn=urn, text="new")
    result: Any = op.poke(context(now - timedelta(minutes=1)))
    assert result and result.xcom_value["messageUrn"] == made["messageUrn"]
    assert not connection.messages()


def test_poke_holds_off_during_a_rate_limit(connection):
    now = datetime.now(timezone.utc)
    urn = connection.reply(profile_id="ann-lee", text="hi", at=now)["conversationUrn"]
    connection.inject("rate_limit_hold_until", seconds=30)
    op = sensor(conversation_urn=urn, deferrable=False)
    assert op.poke(context(now - timedelta(minutes=1))) is False
    assert op.poke(context(now - timedelta(minutes=1))) is False  # no request until the reset
    assert [r["status"] for r in connection.requests()] == [429]


def test_poke_fails_on_an_unknown_conversation(connection):
    op = sensor(deferrable=False)
    with pytest.raises(AirflowException, match="NotFoundError"):
        op.poke(context())


def test_module_imports_cheaply():
    code = (
        "import sys, time, airflow.sdk\n"
        "from airflow.sdk import BaseSensorOperator, PokeReturnValue\n"
        "before = set(sys.modules)\n"
        "t = time.perf_counter()\n"
        "import airflow_provider_connectsafely.sensors.reply\n"
        "print((time.perf_counter() - t) * 1000)\n"
        "new = set(sys.modules) - before\n"
        "print(sorted(m for m in new if not m.startswith('airflow_provider_connectsafely')"
        " or m.endswith(('hooks.connectsafely', 'triggers.replies'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    millis, heavy = out.stdout.strip().splitlines()[-2:]
    assert float(millis) <= 10
    assert heavy == "[]"
