"""The operator: validation, error mapping, templating through real Airflow rendering."""

from __future__ import annotations

import pytest
from helpers.connections import API_KEY

from airflow_provider_connectsafely.compat import AirflowException, AirflowFailException
from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator


def operator(**kwargs) -> SendLinkedInMessageOperator:
    kwargs.setdefault("task_id", "send")
    kwargs.setdefault("message", "Hello!")
    return SendLinkedInMessageOperator(**kwargs)


def test_template_fields_cover_every_text_parameter():
    assert set(SendLinkedInMessageOperator.template_fields) == {
        "message",
        "recipient_profile_id",
        "recipient_profile_urn",
        "subject",
        "message_type",
        "account_id",
        "conversation_urn",
        "messaging_channel",
        "connectsafely_conn_id",
        "dedupe_key",
        "ledger_conn_id",
        "send_window",
        "timezone",
    }
    assert set(SendLinkedInMessageOperator.template_ext) == {".txt", ".j2", ".md"}


def test_construction_reads_no_connection(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", raising=False)
    op = operator(recipient_profile_id="x", connectsafely_conn_id="does_not_exist")
    assert "hook" not in op.__dict__


def test_execute_with_an_empty_context_returns_the_answer(connection):
    answer = operator(recipient_profile_id="john-doe-123").execute({})
    assert answer["success"] is True
    assert answer["recipientProfileUrn"].startswith("urn:li:fsd_profile:")
    assert connection.messages()[0]["recipientProfileId"] == "john-doe-123"


def test_bad_input_fails_without_retries_and_sends_nothing(connection):
    with pytest.raises(AirflowFailException, match="recipient_profile_urn"):
        operator(recipient_profile_urn="not-a-urn").execute({})
    with pytest.raises(AirflowFailException, match="subject"):
        operator(recipient_profile_id="x", subject="Hi").execute({})
    assert connection.requests() == []


@pytest.mark.parametrize(
    ("fault", "params", "airflow_error", "words"),
    [
        ("error", {"status": 401, "shape": "error"}, AirflowFailException, "AuthenticationError"),
        ("error", {"status": 403, "shape": "code"}, AirflowFailException, "PermissionDeniedError"),
        ("error", {"status": 404, "shape": "error_details"}, AirflowFailException, "NotFoundError"),
        ("error", {"status": 400, "shape": "zod"}, AirflowFailException, "BadRequestError"),
        ("error", {"status": 500, "shape": "empty"}, AirflowFailException, "DeliveryUnknownError"),
        ("error", {"status": 503, "shape": "html"}, AirflowException, "ServiceUnavailableError"),
    ],
)
def test_errors_map_to_airflow_failures(connection, fault, params, airflow_error, words):
    connection.inject(fault, **params)
    with pytest.raises(AirflowException) as info:
        operator(recipient_profile_id="x").execute({})
    assert type(info.value) is airflow_error
    assert words in str(info.value)
    assert API_KEY not in str(info.value)
    assert len(connection.requests()) == 1


def test_mapped_operator_expands(connection):
    from airflow.sdk import DAG

    with DAG("mapping_shape", schedule=None):
        mapped = SendLinkedInMessageOperator.partial(task_id="m", message="hi").expand(
            recipient_profile_id=["a", "b"]
        )
    assert mapped.partial_kwargs["message"] == "hi"
    assert mapped.expand_input.value == {"recipient_profile_id": ["a", "b"]}


def test_a_far_rate_limit_defers_the_task(connection):
    from airflow_provider_connectsafely.compat import TaskDeferred

    connection.inject("rate_limit_hold_until", seconds=7200)
    with pytest.raises(TaskDeferred) as info:
        operator(recipient_profile_id="x").execute({})
    assert info.value.method_name == "execute_complete"
    assert len(connection.requests()) == 1


def test_conversations_endpoint_returns_the_thread(connection):
    op = operator(recipient_profile_id="jo", endpoint="conversations", messaging_channel="linkedin_inbox")
    result = op.execute({})
    assert result["threadId"] and result["conversationUrn"].startswith("urn:li:msg_conversation:")
    assert result["sentMessage"]["messageUrn"].startswith("urn:li:msg_message:")
    assert result["sentMessage"]["sentAt"]
    [request] = connection.requests()
    assert request["path"] == "/linkedin/conversations/send"
    assert request["body"]["messagingChannel"] == "linkedin_inbox"
    with pytest.raises(AirflowFailException, match="messaging_channel"):
        operator(recipient_profile_id="jo", endpoint="conversations", messaging_channel="fax").execute({})
    assert len(connection.requests()) == 1
