"""Parsing answers: every documented error shape, rate-limit times, typed errors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import requests

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.api.responses import error_for, parse_time, server_message, success_body

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)


def response(status: int, body: object = None, headers: dict | None = None, raw: str | None = None):
    resp = requests.Response()
    resp.status_code = status
    text = raw if raw is not None else ("" if body is None else json.dumps(body))
    resp._content = text.encode()
    resp.headers.update(headers or {})
    return resp


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"success": False, "code": "validation_error", "message": "bad field"},
            "bad field (validation_error)",
        ),
        ({"error": "Invalid API key"}, "Invalid API key"),
        ({"success": False, "error": "Quota"}, "Quota"),
        (
            {
                "success": False,
                "error": {
                    "name": "ZodError",
                    "issues": [{"path": ["message"], "message": "Required"}, {"path": [], "message": "x"}],
                },
            },
            "message: Required; x",
        ),
        ({"errorDetails": {"message": "deep"}}, "deep"),
    ],
)
def test_every_documented_error_shape(body, expected):
    assert server_message(body) == expected


def test_html_and_empty_bodies():
    assert "HTML" in server_message(None, "<html><body>502 Bad Gateway</body></html>")
    assert server_message(None, "") == "(empty body)"
    assert server_message(None, "plain words") == "plain words"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (503, errors.ServiceUnavailableError),
        (302, errors.UnexpectedRedirectError),
        (418, errors.ConnectSafelyAPIError),
    ],
)
def test_status_to_error_class(status, kind):
    error = error_for(response(status, {"error": "words from server"}), NOW)
    assert type(error) is kind
    if status != 302:
        assert "words from server" in str(error)
    assert error.delivered is False


@pytest.mark.parametrize("status", [500, 502, 504])
def test_server_errors_after_sending_are_delivery_unknown(status):
    error = error_for(response(status, raw="<html>oops</html>"), NOW)
    assert isinstance(error, errors.DeliveryUnknownError)
    assert error.delivered is None
    assert error.status_code == status
    assert "may or may not have been delivered" in str(error)


def test_redacts_the_key_if_the_server_echoes_it():
    error = error_for(response(401, {"error": "key sk-123 is invalid"}), NOW, redact="sk-123")
    assert "sk-123" not in str(error)


@pytest.mark.parametrize(
    ("headers", "body", "seconds"),
    [
        ({"Retry-After": "7"}, {}, 7),
        ({"X-RateLimit-Reset": (NOW + timedelta(seconds=30)).isoformat()}, {}, 30),
        ({"X-RateLimit-Reset": "2026-11-26T12:00:45Z"}, {}, 45),
        ({"X-RateLimit-Reset": str(int((NOW + timedelta(seconds=90)).timestamp()))}, {}, 90),
        ({}, {"holdUntil": "2026-11-27T00:00:00Z"}, 12 * 3600),
        ({"Retry-After": "5"}, {"holdUntil": "2026-11-26T12:01:00Z"}, 60),
        ({"Retry-After": "Thu, 26 Nov 2026 12:00:20 GMT"}, {}, 20),
    ],
)
def test_rate_limit_wait_takes_the_latest_reset(headers, body, seconds):
    error = error_for(response(429, body, headers), NOW)
    assert isinstance(error, errors.RateLimitError)
    assert error.retry_after == pytest.approx(seconds)
    assert error.reset_at == NOW + timedelta(seconds=seconds)


def test_rate_limit_without_a_time():
    error = error_for(response(429, {"error": "slow down"}), NOW)
    assert isinstance(error, errors.RateLimitError)
    assert error.retry_after is None and error.reset_at is None


def test_parse_time_garbage_is_none():
    assert parse_time("soon", NOW) is None
    assert parse_time(None, NOW) is None


def test_success_bodies():
    ok = {"success": True, "recipientProfileUrn": "urn:li:fsd_profile:A"}
    assert success_body(response(200, ok)) == ok
    with pytest.raises(errors.DeliveryUnknownError):
        success_body(response(200, raw="{not json"))
    with pytest.raises(errors.SendRejectedError) as info:
        success_body(response(200, {"success": False, "error": "LinkedIn rejected"}))
    assert info.value.delivered is False and "LinkedIn rejected" in str(info.value)


def test_a_key_echoed_in_a_success_answer_is_redacted():
    echoed = {"success": True, "message": "sent with key sk-live-123", "recipientProfileUrn": "urn:li:x:1"}
    body = success_body(response(200, echoed), redact="sk-live-123")
    assert "sk-live-123" not in json.dumps(body)
    assert body["recipientProfileUrn"] == "urn:li:x:1"


def test_an_escaped_echo_of_the_key_is_redacted_too():
    raw = '{"success": true, "note": "key \\u0073k-live-123 and sk\\/x", "list": ["sk-live-123"]}'
    body = success_body(response(200, raw=raw), redact="sk-live-123")
    assert "sk-live-123" not in json.dumps(body)
    assert body["list"] == ["***"]
