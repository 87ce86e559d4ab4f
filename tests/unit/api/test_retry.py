"""The retry policy's handlers (pure logic)."""

from __future__ import annotations

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.api.retry import (
    ConnectFailureHandler,
    RateLimitHandler,
    ReadFailureHandler,
    RetryPolicy,
)


def rate_limited(seconds):
    return errors.RateLimitError(429, "slow", seconds, None)


def test_connect_failures_back_off_within_cap():
    handler = ConnectFailureHandler(base=1, cap=4)
    failure = errors.ConnectionFailedError("refused")
    for attempt in range(1, 6):
        delay = handler.delay(failure, attempt)
        assert delay is not None and 0 <= delay <= min(4, 2 ** (attempt - 1))
    assert handler.delay(rate_limited(1), 1) is None


def test_rate_limit_waits_only_when_short():
    handler = RateLimitHandler(max_wait=60)
    assert handler.delay(rate_limited(30), 1) == 30
    assert handler.delay(rate_limited(61), 1) is None
    assert handler.delay(rate_limited(None), 1) == handler.default_wait
    assert handler.delay(errors.ConnectionFailedError("x"), 1) is None


def test_policy_never_retries_unknown_delivery_or_client_errors():
    policy = RetryPolicy()
    assert policy.delay(errors.DeliveryUnknownError("timeout"), 1) is None
    assert policy.delay(errors.AuthenticationError(401, "bad key"), 1) is None
    assert policy.delay(errors.BadRequestError(400, "bad"), 1) is None
    assert policy.delay(errors.ServiceUnavailableError(503, "down"), 1) is None


def test_policy_stops_at_max_attempts():
    policy = RetryPolicy(max_attempts=2)
    assert policy.delay(errors.ConnectionFailedError("x"), 1) is not None
    assert policy.delay(errors.ConnectionFailedError("x"), 2) is None
    assert RetryPolicy.never().delay(errors.ConnectionFailedError("x"), 1) is None
    assert RetryPolicy.default(max_rate_limit_wait=5).delay(rate_limited(6), 1) is None


def test_failed_reads_are_retried_and_sends_of_unknown_outcome_never():
    handler = ReadFailureHandler(base=1, cap=2)
    failed_read = errors.ReadFailedError("timeout", None)
    assert 0 <= (handler.delay(failed_read, 3) or 0) <= 2
    assert handler.delay(errors.DeliveryUnknownError("timeout"), 1) is None
    for policy in (RetryPolicy(), RetryPolicy.default()):
        assert policy.delay(failed_read, 1) is not None
        assert policy.delay(errors.DeliveryUnknownError("timeout", 500), 1) is None
