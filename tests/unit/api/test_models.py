"""The request model: validation and the exact JSON body (pure logic, no Airflow)."""

from __future__ import annotations

import pytest

from airflow_provider_connectsafely.api.models import (
    SEND_PATH,
    SEND_WITH_TYPING_PATH,
    MessageLimits,
    MessageRequest,
    normalize_profile_id,
)
from airflow_provider_connectsafely.errors import ConnectSafelyValidationError


def build(**kwargs):
    kwargs.setdefault("message", "Hello!")
    return MessageRequest.build(**kwargs)


def test_minimal_body_names_fields_as_the_contract():
    request = build(recipient_profile_id="john-doe-123")
    assert request.to_body() == {
        "recipientProfileId": "john-doe-123",
        "message": "Hello!",
        "messageType": "normal",
    }
    assert request.path == SEND_PATH


def test_inmail_body_with_every_field():
    request = build(
        recipient_profile_urn="urn:li:fsd_profile:ACoAAB12",
        subject="Exciting Opportunity",
        message_type="InMail",
        account_id="65f1c0ffee0123456789abcd",
    )
    assert request.to_body() == {
        "accountId": "65f1c0ffee0123456789abcd",
        "recipientProfileUrn": "urn:li:fsd_profile:ACoAAB12",
        "message": "Hello!",
        "subject": "Exciting Opportunity",
        "messageType": "inmail",
    }


def test_typing_indicator_uses_its_endpoint_and_conversation():
    request = build(
        recipient_profile_id="jane",
        typing_indicator=True,
        conversation_urn="urn:li:msg_conversation:123",
    )
    assert request.path == SEND_WITH_TYPING_PATH
    assert request.to_body()["conversationUrn"] == "urn:li:msg_conversation:123"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.linkedin.com/in/john-doe-123/",
        "https://linkedin.com/in/john-doe-123",
        "http://www.linkedin.com/in/john-doe-123?trk=public_profile",
        "https://www.linkedin.com/in/john-doe-123/?originalSubdomain=uk",
        "www.linkedin.com/in/john-doe-123/",
        "https://uk.linkedin.com/in/john-doe-123",
        "  john-doe-123  ",
    ],
)
def test_profile_urls_reduce_to_the_id(url):
    assert normalize_profile_id(url) == "john-doe-123"
    assert build(recipient_profile_id=url).to_body()["recipientProfileId"] == "john-doe-123"


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"recipient_profile_id": None}, "recipient_profile_id", "no recipient"),
        (
            {"recipient_profile_id": "a", "recipient_profile_urn": "urn:li:fsd_profile:x"},
            "recipient_profile_id",
            "both",
        ),
        ({"recipient_profile_id": "urn:li:fsd_profile:x"}, "recipient_profile_id", "recipient_profile_urn"),
        ({"recipient_profile_id": "https://www.linkedin.com/company/acme"}, "recipient_profile_id", "URL"),
        ({"recipient_profile_id": "https://example.com/in/x"}, "recipient_profile_id", "URL"),
        ({"recipient_profile_id": "john doe"}, "recipient_profile_id", "not a profile ID"),
        ({"recipient_profile_urn": "ACoAAB12"}, "recipient_profile_urn", "urn:li:"),
        ({"recipient_profile_id": "a", "message": "   \n"}, "message", "empty"),
        ({"recipient_profile_id": "a", "message": 42}, "message", "int"),
        ({"recipient_profile_id": "a", "message_type": "email"}, "message_type", "'normal' or 'inmail'"),
        ({"recipient_profile_id": "a", "subject": "Hi"}, "subject", "inmail"),
        (
            {"recipient_profile_id": "a", "subject": "x" * 201, "message_type": "inmail"},
            "subject",
            "200",
        ),
        ({"recipient_profile_id": "a", "message": "x" * 8001}, "message", "8000"),
        ({"recipient_profile_id": "a", "message": "x" * 1901, "message_type": "inmail"}, "message", "1900"),
        ({"recipient_profile_id": "a", "account_id": "has space"}, "account_id", "account ID"),
        ({"recipient_profile_id": "a", "conversation_urn": "urn:li:c:1"}, "conversation_urn", "typing"),
        (
            {"recipient_profile_id": "a", "typing_indicator": True, "conversation_urn": "c1"},
            "conversation_urn",
            "URN",
        ),
        ({"recipient_profile_id": "a", "typing_indicator": "yes"}, "typing_indicator", "bool"),
        ({"recipient_profile_id": 123}, "recipient_profile_id", "int"),
    ],
)
def test_bad_input_names_the_field_and_the_fix(kwargs, field, words):
    with pytest.raises(ConnectSafelyValidationError) as info:
        build(**kwargs)
    assert info.value.field == field
    assert words in str(info.value)
    assert "Fix:" in str(info.value)


def test_limits_are_configurable():
    limits = {"normal": 10, "inmail": 5, "subject": 3}
    assert build(recipient_profile_id="a", message="x" * 10, limits=limits)
    with pytest.raises(ConnectSafelyValidationError, match="limit of 10"):
        build(recipient_profile_id="a", message="x" * 11, limits=limits)
    with pytest.raises(ConnectSafelyValidationError, match="message_limits"):
        build(recipient_profile_id="a", limits={"normall": 1})
    assert MessageLimits.coerce(None) == MessageLimits()


def test_message_is_sent_unchanged_and_unicode_is_fine():
    text = "  Héllo 👋\nline two  "
    assert build(recipient_profile_id="a", message=text).to_body()["message"] == text


def test_default_account_fills_only_a_missing_one():
    request = build(recipient_profile_id="a")
    assert request.with_default_account("abc").account_id == "abc"
    assert request.with_default_account(None) is request
    own = build(recipient_profile_id="a", account_id="mine")
    assert own.with_default_account("abc").account_id == "mine"
