"""The hook and client against the emulator over loopback (real HTTP)."""

from __future__ import annotations

import json

import pytest
from helpers.connections import API_KEY, connection_json

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.api.retry import RetryPolicy
from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook


def test_hook_identity():
    assert ConnectSafelyHook.conn_name_attr == "connectsafely_conn_id"
    assert ConnectSafelyHook.default_conn_name == "connectsafely_default"
    assert ConnectSafelyHook.conn_type == "connectsafely"
    assert ConnectSafelyHook.hook_name == "ConnectSafely"


def test_init_does_not_read_the_connection(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", raising=False)
    hook = ConnectSafelyHook()  # no connection exists: fine until first use
    assert "settings" not in hook.__dict__


def test_send_message_posts_the_contract_body(connection):
    answer = ConnectSafelyHook().send_message(
        message="Hello!", recipient_profile_id="https://www.linkedin.com/in/john-doe-123/"
    )
    assert answer["success"] is True
    assert answer["recipientProfileUrn"].startswith("urn:li:fsd_profile:")
    [request] = connection.requests()
    assert request["path"] == "/linkedin/messaging/send"
    assert request["body"] == {
        "recipientProfileId": "john-doe-123",
        "message": "Hello!",
        "messageType": "normal",
    }
    assert request["headers"]["User-Agent"].startswith("airflow-provider-connectsafely/")
    assert request["authorized"] is True


def test_typing_indicator_endpoint(connection):
    answer = ConnectSafelyHook().send_message(
        message="Hi",
        recipient_profile_urn="urn:li:fsd_profile:ACoAAX",
        typing_indicator=True,
        conversation_urn="urn:li:msg_conversation:42",
    )
    assert answer["typingIndicatorSent"] is True
    [request] = connection.requests()
    assert request["path"] == "/linkedin/messaging/send-with-typing"
    assert request["body"]["conversationUrn"] == "urn:li:msg_conversation:42"


def test_one_session_is_reused_across_sends(connection):
    hook = ConnectSafelyHook()
    for name in ("a", "b", "c"):
        hook.send_message(message="hi", recipient_profile_id=name)
    session = hook.client.session
    assert hook.client.session is session
    assert len(connection.messages()) == 3


def test_connection_default_account_is_used(emulator, monkeypatch):
    default, second = (account.id for account in emulator.state.accounts)
    monkeypatch.setenv("AIRFLOW_CONN_CS_ACCT", connection_json(emulator.url, account_id=second))
    hook = ConnectSafelyHook("cs_acct")
    hook.send_message(message="hi", recipient_profile_id="x")
    hook.send_message(message="hi", recipient_profile_id="y", account_id=default)
    assert [m["accountId"] for m in emulator.messages()] == [second, default]


@pytest.mark.parametrize("form", ["encoded-host", "schema"])
def test_uri_form_connection(emulator, monkeypatch, form):
    from urllib.parse import quote

    host_port = emulator.url.removeprefix("http://")
    if form == "encoded-host":
        uri = f"connectsafely://:{API_KEY}@{quote(emulator.url, safe='')}/?timeout=5"
    else:
        uri = f"connectsafely://:{API_KEY}@{host_port}/http?timeout=5"
    monkeypatch.setenv("AIRFLOW_CONN_CS_URI", uri)
    hook = ConnectSafelyHook("cs_uri")
    assert hook.settings.base_url == emulator.url
    assert hook.settings.timeout == 5
    assert hook.send_message(message="hi", recipient_profile_id="x")["success"] is True


def test_test_connection_is_read_only(connection):
    ok, text = ConnectSafelyHook().test_connection()
    assert ok, text
    assert "account" in text
    assert connection.messages() == []
    assert [r["path"] for r in connection.requests()] == ["/linkedin/accounts"]


def test_test_connection_with_a_wrong_key(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CS_BAD", connection_json(emulator.url, key="wrong-key-xyz"))
    ok, text = ConnectSafelyHook("cs_bad").test_connection()
    assert not ok
    assert "401" in text and "API key" in text
    assert "wrong-key-xyz" not in text


def test_missing_api_key_names_the_connection(emulator, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CS_NOKEY", json.dumps({"conn_type": "connectsafely", "host": emulator.url})
    )
    with pytest.raises(errors.ConnectSafelyConfigError, match="'cs_nokey' has no API key"):
        ConnectSafelyHook("cs_nokey").send_message(message="hi", recipient_profile_id="x")
    assert emulator.requests() == []


def test_plain_http_to_a_remote_host_is_refused(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CS_REMOTE", connection_json("http://api.example.com"))
    with pytest.raises(errors.ConnectSafelyConfigError, match="plain http"):
        ConnectSafelyHook("cs_remote").send_message(message="hi", recipient_profile_id="x")


def test_validation_happens_before_the_connection_is_read(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", raising=False)
    with pytest.raises(errors.ConnectSafelyValidationError, match="message"):
        ConnectSafelyHook().send_message(message=" ", recipient_profile_id="x")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
    ],
)
def test_client_errors_are_typed_and_not_retried(connection, status, kind):
    connection.inject("error", status=status, shape="error")
    with pytest.raises(kind):
        ConnectSafelyHook().send_message(message="hi", recipient_profile_id="x")
    assert len(connection.requests()) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
def test_server_errors_are_delivery_unknown_and_not_retried(connection, status):
    connection.inject("error", status=status, shape="html", deliver=True)
    with pytest.raises(errors.DeliveryUnknownError):
        ConnectSafelyHook().send_message(message="hi", recipient_profile_id="x")
    assert len(connection.requests()) == 1
    assert len(connection.messages()) == 1


def test_read_timeout_is_delivery_unknown_and_not_retried(connection):
    connection.inject("slow", delay=1.5)
    hook = ConnectSafelyHook(timeout=0.3)
    with pytest.raises(errors.DeliveryUnknownError, match="read timeout"):
        hook.send_message(message="hi", recipient_profile_id="x")
    assert len(connection.requests()) == 1


def test_short_rate_limit_is_waited_out_in_process(connection):
    connection.inject("rate_limit_retry_after", seconds=1)
    answer = ConnectSafelyHook().send_message(message="hi", recipient_profile_id="x")
    assert answer["success"] is True
    assert [r["status"] for r in connection.requests()] == [429, 200]
    assert len(connection.messages()) == 1


def test_long_rate_limit_raises_with_the_reset_time(connection):
    connection.inject("rate_limit_hold_until", seconds=3600)
    with pytest.raises(errors.RateLimitError) as info:
        ConnectSafelyHook(max_rate_limit_wait=60).send_message(message="hi", recipient_profile_id="x")
    assert info.value.reset_at is not None
    assert 3500 < info.value.retry_after <= 3600
    assert len(connection.requests()) == 1


def test_connection_refused_is_retried_then_raised(monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_CS_DOWN", connection_json(f"http://127.0.0.1:{port}"))
    sleeps: list[float] = []
    hook = ConnectSafelyHook("cs_down")
    hook.client._sleep = sleeps.append
    with pytest.raises(errors.ConnectionFailedError, match="nothing was sent"):
        hook.send_message(message="hi", recipient_profile_id="x")
    assert len(sleeps) == RetryPolicy().max_attempts - 1


def test_key_is_not_in_any_error_text(connection):
    for status in (400, 401, 403, 404, 500):
        connection.inject("error", status=status, shape="code")
        with pytest.raises(errors.ConnectSafelyError) as info:
            ConnectSafelyHook().send_message(message="hi", recipient_profile_id="x")
        assert API_KEY not in str(info.value)
        assert API_KEY not in repr(ConnectSafelyHook().client)
