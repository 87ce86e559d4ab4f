"""Test DAG: send a message, then wait for the reply (in the triggerer, and by poking)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator
from airflow_provider_connectsafely.sensors.reply import LinkedInReplySensor

CONVERSATION = "{{ ti.xcom_pull(task_ids='send')['conversationUrn'] }}"

with DAG(
    dag_id="connectsafely_test_reply_sensor",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
) as dag:
    send = SendLinkedInMessageOperator(
        task_id="send", recipient_profile_id="reply-ria", message="Coffee next week?"
    )
    wait = LinkedInReplySensor(
        task_id="wait_for_reply", conversation_urn=CONVERSATION, poke_interval=0.2, timeout=30
    )
    poke = LinkedInReplySensor(
        task_id="poke_for_reply",
        conversation_urn=CONVERSATION,
        poke_interval=0.2,
        timeout=30,
        deferrable=False,
    )
    send >> [wait, poke]
