"""Test DAG: nobody replies; the sensors time out and, with soft_fail, are skipped."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator
from airflow_provider_connectsafely.sensors.reply import LinkedInReplySensor

CONVERSATION = "{{ ti.xcom_pull(task_ids='send')['conversationUrn'] }}"

with DAG(
    dag_id="connectsafely_test_reply_timeout",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
) as dag:
    send = SendLinkedInMessageOperator(task_id="send", recipient_profile_id="quiet-quinn", message="Hello?")
    deferred = LinkedInReplySensor(
        task_id="wait_deferred", conversation_urn=CONVERSATION, poke_interval=0.2, timeout=1, soft_fail=True
    )
    poking = LinkedInReplySensor(
        task_id="wait_poking",
        conversation_urn=CONVERSATION,
        poke_interval=0.2,
        timeout=1,
        soft_fail=True,
        deferrable=False,
    )
    strict = LinkedInReplySensor(
        task_id="wait_strict", conversation_urn=CONVERSATION, poke_interval=0.2, timeout=1
    )
    send >> [deferred, poking, strict]
