"""Outcome statuses and their XCom form."""

from __future__ import annotations

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.outreach import outcomes
from airflow_provider_connectsafely.outreach.outcomes import Outcome, counts, counts_text


def test_to_dict_carries_the_conversation_and_the_error_type():
    answer = {"recipientProfileUrn": "urn:li:fsd_profile:x", "conversationUrn": "urn:c", "threadId": "t1"}
    sent = Outcome(outcomes.SENT, "ann", "k", response=answer).to_dict()
    assert sent == {
        "recipient": "ann",
        "status": "sent",
        "dedupe_key": "k",
        "recipientProfileUrn": "urn:li:fsd_profile:x",
        "conversationUrn": "urn:c",
        "threadId": "t1",
    }
    failed = Outcome(outcomes.FAILED, "bob", reason="no", error=errors.NotFoundError(404, "gone")).to_dict()
    assert failed["error_type"] == "NotFoundError" and "dedupe_key" not in failed


def test_only_errors_that_no_recipient_can_pass_stop_a_batch():
    assert Outcome(outcomes.FAILED, "a", error=errors.AuthenticationError(401, "x")).stops_batch
    assert Outcome(outcomes.FAILED, "a", error=errors.PermissionDeniedError(403, "x")).stops_batch
    assert Outcome(outcomes.FAILED, "a", error=errors.ConnectSafelyConfigError("x")).stops_batch
    assert not Outcome(outcomes.FAILED, "a", error=errors.NotFoundError(404, "x")).stops_batch
    assert not Outcome(outcomes.SENT, "a").stops_batch


def test_counts_list_every_status_in_one_order():
    done = [Outcome(outcomes.SENT, "a"), Outcome(outcomes.FAILED, "b"), Outcome(outcomes.SENT, "c")]
    totals = counts(done)
    assert list(totals) == list(outcomes.STATUSES) and totals["sent"] == 2 and totals["failed"] == 1
    assert counts_text(totals) == "sent 2, failed 1"
