"""The hook's connection requests and relationship reads against the emulator over loopback."""

from __future__ import annotations

import pytest
from helpers.connections import API_KEY, connection_json

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook


def test_connect_accept_and_read_the_relationship(connection):
    hook = ConnectSafelyHook()
    assert hook.get_relationship("https://www.linkedin.com/in/hana/").to_dict()["status"] == "none"
    answer = hook.send_connection_request(recipient_profile_id="hana", note="Hi Hana, met you at PyCon.")
    assert answer["success"] is True and answer["invitationId"]
    body = connection.requests()[-1]["body"]
    assert body == {"profileId": "hana", "customMessage": "Hi Hana, met you at PyCon."}
    assert hook.get_relationship("hana").invitation_sent is True
    connection.accept_invitation("hana")
    accepted = hook.get_relationship(answer["profileUrn"])
    assert accepted.connected is True and accepted.profile_urn == answer["profileUrn"]


def test_the_connections_account_is_the_default(emulator, monkeypatch):
    second = emulator.state.accounts[1].id
    monkeypatch.setenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", connection_json(emulator.url, account_id=second))
    hook = ConnectSafelyHook()
    hook.send_connection_request(recipient_profile_urn="urn:li:fsd_profile:ACoAAIvy")
    assert emulator.requests()[-1]["body"] == {
        "accountId": second,
        "profileUrn": "urn:li:fsd_profile:ACoAAIvy",
    }
    relationship = hook.get_relationship("urn:li:fsd_profile:ACoAAIvy")
    assert emulator.requests()[-1]["query"] == {"accountId": second}
    assert relationship.invitation_sent is True and relationship.account_id == second
    first = emulator.state.accounts[0].id
    assert hook.get_relationship("urn:li:fsd_profile:ACoAAIvy", first).status == "none"
    assert emulator.requests()[-1]["query"] == {"accountId": first}


def test_bad_input_is_refused_before_any_request(connection, monkeypatch):
    hook = ConnectSafelyHook()
    with pytest.raises(errors.ConnectSafelyValidationError, match="`note`: 301 characters"):
        hook.send_connection_request(recipient_profile_id="hana", note="x" * 301)
    with pytest.raises(errors.ConnectSafelyValidationError, match="recipient_profile_id"):
        hook.send_connection_request(note="Hi")
    assert connection.requests() == []
    # Validation needs no connection at all.
    monkeypatch.delenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT")
    with pytest.raises(errors.ConnectSafelyValidationError, match="note"):
        ConnectSafelyHook().build_connect_request(recipient_profile_id="hana", note="x" * 301)


def test_api_errors_are_typed_and_keep_the_key_out(connection):
    hook = ConnectSafelyHook()
    hook.send_connection_request(recipient_profile_id="ida")
    with pytest.raises(errors.BadRequestError, match="Invitation already pending") as info:
        hook.send_connection_request(recipient_profile_id="ida")
    assert API_KEY not in str(info.value)
    with pytest.raises(errors.NotFoundError):
        hook.get_relationship("unknown-ida")
