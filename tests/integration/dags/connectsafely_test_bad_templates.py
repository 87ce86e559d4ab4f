"""Test DAG: templates that render to empty or invalid values (see tests/test_properties.py).

Every task must fail at once (no Airflow retry, although ``retries=2``), before any request,
with an error naming the field and the fix.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator

PARAMS = {
    "blank": "",
    "spaces": "   ",
    "who": "jane-roe",
    "urn": "urn:li:fsd_profile:ACoAAX",
    "company": "https://www.linkedin.com/company/acme/",
    "full_name": "Jane Roe",
    "kind": "email",
}
# task id: operator arguments (templated)
TASKS: dict[str, dict[str, str]] = {
    "message_renders_empty": {"recipient_profile_id": "{{ params.who }}", "message": "{{ params.blank }}"},
    "message_renders_whitespace": {
        "recipient_profile_id": "{{ params.who }}",
        "message": "{{ params.spaces }}\n{{ params.blank }}",
    },
    "message_undefined_variable": {
        "recipient_profile_id": "{{ params.who }}",
        "message": "{{ params.nope }}",
    },
    "message_renders_too_long": {"recipient_profile_id": "{{ params.who }}", "message": "{{ 'x' * 8001 }}"},
    "recipient_renders_empty": {"recipient_profile_id": "{{ params.blank }}", "message": "Hi"},
    "recipient_renders_a_urn": {"recipient_profile_id": "{{ params.urn }}", "message": "Hi"},
    "recipient_renders_a_company_url": {"recipient_profile_id": "{{ params.company }}", "message": "Hi"},
    "recipient_renders_with_spaces": {"recipient_profile_id": "{{ params.full_name }}", "message": "Hi"},
    "both_recipients_render": {
        "recipient_profile_id": "{{ params.who }}",
        "recipient_profile_urn": "{{ params.urn }}",
        "message": "Hi",
    },
    "urn_renders_invalid": {"recipient_profile_urn": "urn:li:{{ params.blank }}", "message": "Hi"},
    "message_type_renders_unknown": {
        "recipient_profile_id": "{{ params.who }}",
        "message_type": "{{ params.kind }}",
        "message": "Hi",
    },
    "subject_renders_too_long": {
        "recipient_profile_id": "{{ params.who }}",
        "message_type": "inmail",
        "subject": "{{ 'S' * 201 }}",
        "message": "Hi",
    },
    "subject_without_inmail": {
        "recipient_profile_id": "{{ params.who }}",
        "subject": "Hello {{ params.full_name }}",
        "message": "Hi",
    },
    "account_renders_invalid": {
        "recipient_profile_id": "{{ params.who }}",
        "account_id": "{{ params.full_name }}",
        "message": "Hi",
    },
    "conn_id_renders_unknown": {
        "recipient_profile_id": "{{ params.who }}",
        "message": "Hi",
        "connectsafely_conn_id": "cs_{{ params.blank }}",
    },
}

with DAG(
    dag_id="connectsafely_test_bad_templates",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params=PARAMS,
    default_args={"retries": 2, "retry_delay": timedelta(0)},
) as dag:
    for task_id, arguments in TASKS.items():
        SendLinkedInMessageOperator(task_id=task_id, use_ledger=False, **arguments)
    # Mapped tasks render through another path in Airflow: the same rule must hold there.
    SendLinkedInMessageOperator.partial(
        task_id="mapped_undefined_variable", message="{{ params.nope }}", use_ledger=False
    ).expand(recipient_profile_id=["jane-roe", "john-doe"])
