"""LinkedInReplySensor without a DAG run: the check before deferring, deferral, resume, poking
against the emulator, the ``[operators] default_deferrable`` default, and what a DAG file pays
to import it."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from helpers.connections import connection_json

from airflow_provider_connectsafely.compat import AirflowException, AirflowSkipException, TaskDeferred
from airflow_provider_connectsafely.sensors.reply import LinkedInReplySensor
from airflow_provider_connectsafely.triggers.replies import LinkedInReplyTrigger

URN = "urn:li:msg_conversation:2-" + "a" * 32
RUN_START = datetime(2026, 6, 1, 9, 30, tzinfo=timezone.utc)
ACCOUNT = "4f0062fefe7a91f9aacc4d14"  # the emulator's default account


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


def quiet_conversation(emulator) -> str:
    """A conversation whose only reply is older than any ``since`` used here."""
    old = datetime.now(timezone.utc) - timedelta(days=1)
    return emulator.reply(profile_id="ann-lee", text="old news", at=old)["conversationUrn"]


def reads(emulator) -> list[int]:
    """The statuses of the conversation reads the emulator answered, in order."""
    return [r["status"] for r in emulator.requests() if r["method"] == "GET"]


def test_defers_to_the_trigger_with_the_run_start_and_a_deadline(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CS", connection_json(emulator.url))
    urn = quiet_conversation(emulator)
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    op = sensor(conversation_urn=urn, account_id=ACCOUNT, connectsafely_conn_id="cs", deferrable=True)
    before = datetime.now(timezone.utc)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context(start))
    assert reads(emulator) == [200]  # one check in the worker found no reply
    trigger = deferred.value.trigger
    assert isinstance(trigger, LinkedInReplyTrigger)
    assert deferred.value.method_name == "execute_complete"
    kwargs = trigger.serialize()[1]
    assert kwargs["conversation_urn"] == urn and kwargs["account_id"] == ACCOUNT and kwargs["conn_id"] == "cs"
    assert kwargs["since"] == start.isoformat()
    assert kwargs["poke_interval"] == 0.2
    deadline = datetime.fromisoformat(kwargs["deadline"])
    assert before + timedelta(seconds=60) <= deadline <= datetime.now(timezone.utc) + timedelta(seconds=60)
    # Airflow's own deferral timeout is a backstop behind the trigger's deadline.
    assert deferred.value.timeout is not None and deferred.value.timeout > timedelta(seconds=60)


def test_explicit_since_wins(connection):
    urn = quiet_conversation(connection)
    since = (datetime.now(timezone.utc) - timedelta(minutes=1)).replace(microsecond=0)
    op = sensor(conversation_urn=urn, since=since.isoformat().replace("+00:00", "Z"), deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context(since - timedelta(days=2)))  # the run started before the old reply
    assert deferred.value.trigger.serialize()[1]["since"] == since.isoformat()


# -- the check before deferring ------------------------------------------------------------


def test_a_reply_already_there_succeeds_without_deferring(connection):
    urn = quiet_conversation(connection)
    made = connection.reply(conversation_urn=urn, text="Already answered")
    op = sensor(conversation_urn=urn, deferrable=True)
    reply = op.execute(context(datetime.now(timezone.utc) - timedelta(minutes=5)))  # no TaskDeferred
    assert reply["messageUrn"] == made["messageUrn"] and reply["text"] == "Already answered"
    assert reads(connection) == [200]
    assert not connection.messages()


def test_a_rate_limited_first_check_defers_instead_of_failing(connection):
    urn = quiet_conversation(connection)
    connection.reply(conversation_urn=urn, text="here, but behind a 429")
    connection.inject("rate_limit_hold_until", seconds=30)
    op = sensor(conversation_urn=urn, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context(datetime.now(timezone.utc) - timedelta(minutes=5)))
    # The trigger polls again after the reset; the worker does not wait for it.
    assert isinstance(deferred.value.trigger, LinkedInReplyTrigger)
    assert reads(connection) == [429]


def test_a_first_check_that_cannot_pass_fails_at_once_or_skips_with_soft_fail(connection):
    with pytest.raises(AirflowException, match="NotFoundError"):
        sensor(deferrable=True).execute(context())
    with pytest.raises(AirflowSkipException, match="NotFoundError"):
        sensor(deferrable=True, soft_fail=True).execute(context())
    assert reads(connection) == [404, 404]


# -- deferrable by default: Airflow's [operators] default_deferrable -----------------------


@pytest.mark.parametrize(("setting", "expected"), [("False", False), ("True", True)])
def test_deferrable_defaults_to_airflows_setting(monkeypatch, setting, expected):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", setting)
    assert sensor().deferrable is expected
    assert sensor(deferrable=not expected).deferrable is not expected  # an explicit value wins


def test_default_deferrable_false_pokes_from_the_worker(connection, monkeypatch):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")
    urn = quiet_conversation(connection)
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    # No reply: poke mode times out in the worker instead of deferring.
    with pytest.raises(AirflowException) as timed_out:
        sensor(conversation_urn=urn, poke_interval=0.1, timeout=0.5).execute(context(start))
    assert type(timed_out.value).__name__ == "AirflowSensorTimeout"
    assert len(reads(connection)) >= 3
    made = connection.reply(conversation_urn=urn, text="now")
    assert sensor(conversation_urn=urn).execute(context(start))["messageUrn"] == made["messageUrn"]


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
    """Only what the module itself needs loads with it: no hook, no trigger, nothing heavy. (Its
    cost in milliseconds is measured by benchmarks/import_cost.py, not asserted here.) The
    Task SDK's small operator-link base (for the "ConnectSafely ledger" link) is the SDK's."""
    code = (
        "import sys, airflow.sdk\n"
        "from airflow.sdk import BaseOperatorLink, BaseSensorOperator, PokeReturnValue\n"
        "before = set(sys.modules)\n"
        "import airflow_provider_connectsafely.sensors.reply\n"
        "new = set(sys.modules) - before\n"
        "print(sorted(m for m in new if not m.startswith('airflow_provider_connectsafely')"
        " or m.endswith(('hooks.connectsafely', 'triggers.replies'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_an_opt_out_reply_suppresses_its_sender_on_the_worker(connection):
    from airflow_provider_connectsafely.ledger import locate

    reply = {
        "messageUrn": "m1",
        "text": "No me interesa.\nSaludos",
        "conversationUrn": URN,
        "senderProfileId": "eva",
    }
    event = {"status": "success", "reply": reply}

    answer = sensor().resume_execution("execute_complete", {"event": event}, context())

    assert answer == {**reply, "optOut": True}
    [entry] = locate.open_ledger(locate.locate()).suppressions()
    assert (entry.person, entry.source, entry.reason) == ("eva", "reply", "No me interesa.")
    kept = {**reply, "senderProfileId": "fay", "text": "no me interesa"}
    assert (
        sensor(opt_out=False).resume_execution(
            "execute_complete", {"event": {**event, "reply": kept}}, context()
        )
        == kept
    )
    assert [e.person for e in locate.open_ledger(locate.locate()).suppressions()] == ["eva"]
