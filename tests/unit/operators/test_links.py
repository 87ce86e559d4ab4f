"""The "ConnectSafely ledger" button: the page filtered to the task's campaign and run, under
``[api] base_url`` (a deployment under a sub-path)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_connectsafely.operators.batch import SendLinkedInMessageBatchOperator
from airflow_provider_connectsafely.operators.connections import SendLinkedInConnectionRequestOperator
from airflow_provider_connectsafely.operators.links import ConnectSafelyLedgerLink
from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator
from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator
from airflow_provider_connectsafely.outreach.steps import SequenceStep
from airflow_provider_connectsafely.plugins import address
from airflow_provider_connectsafely.sensors.reply import LinkedInReplySensor

KEY = SimpleNamespace(
    dag_id="outreach", task_id="send", run_id="manual__2031-03-15T10:00:00+00:00", map_index=-1
)
RUN = "run_id=manual__2031-03-15T10%3A00%3A00%2B00%3A00"


@pytest.fixture
def base_url(monkeypatch):
    def set_to(value: str) -> None:
        monkeypatch.setenv("AIRFLOW__API__BASE_URL", value)

    set_to("")
    return set_to


def test_every_provider_operator_has_the_link():
    for operator in (
        SendLinkedInMessageOperator,
        SendLinkedInMessageBatchOperator,
        SendLinkedInConnectionRequestOperator,
        LinkedInSequenceOperator,
        LinkedInReplySensor,
    ):
        assert [link.name for link in operator.operator_extra_links] == ["ConnectSafely ledger"], operator


def test_a_batch_link_filters_to_its_campaign_and_run_under_the_base_url(base_url):
    base_url("https://airflow.example.com/team/airflow/")
    batch = SendLinkedInMessageBatchOperator(
        task_id="send", message="hi", recipients=[{"profile_id": "a"}], campaign="spring 2031"
    )
    assert ConnectSafelyLedgerLink().get_link(batch, ti_key=KEY) == (
        f"https://airflow.example.com/team/airflow/connectsafely/?campaign=batch%3Aspring+2031&{RUN}"
    )
    unnamed = SendLinkedInMessageBatchOperator(task_id="send", message="hi", recipients=[{"profile_id": "a"}])
    assert "campaign=batch%3Aoutreach.send&" in ConnectSafelyLedgerLink().get_link(unnamed, ti_key=KEY)


def test_a_sequence_link_and_a_single_send_link_without_a_base_url(base_url):
    sequence = LinkedInSequenceOperator(
        task_id="seq", campaign="onboard", steps=[SequenceStep("hi")], recipients=[{"profile_id": "a"}]
    )
    assert ConnectSafelyLedgerLink().get_link(sequence, ti_key=KEY) == (
        f"/connectsafely/?campaign=sequence%3Aonboard&{RUN}"
    )
    single = SendLinkedInMessageOperator(task_id="one", recipient_profile_id="a", message="hi")
    assert ConnectSafelyLedgerLink().get_link(single, ti_key=KEY) == f"/connectsafely/?{RUN}"


def test_the_navigation_entry_is_under_the_base_urls_path():
    assert address.page_href("") == "/connectsafely/"
    assert address.page_href("http://localhost:8080") == "/connectsafely/"
    assert address.page_href("https://example.com/airflow/") == "/airflow/connectsafely/"
    assert address.page_url(base="/airflow") == "/airflow/connectsafely/"
