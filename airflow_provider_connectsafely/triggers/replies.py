"""The trigger behind :class:`~airflow_provider_connectsafely.sensors.reply.LinkedInReplySensor`:
waits in the triggerer for the first reply in one conversation.

It only reads (the triggerer may run a trigger twice, e.g. after a restart) and carries its
own deadline, because ``dag.test()`` does not apply deferral timeouts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.clock import parse_utc
from airflow_provider_connectsafely.triggers.polling import (
    error_payload,
    in_thread,
    iso,
    read_hook,
    retry_delay,
)

CLASSPATH = "airflow_provider_connectsafely.triggers.replies.LinkedInReplyTrigger"


class LinkedInReplyTrigger(BaseTrigger):
    """Poll one conversation until the other person replies, or until ``deadline``.

    Fires exactly one event, whose payload is a dict with ``status``:

    - ``"success"``: ``reply`` is the first reply after ``since`` (``messageUrn``, ``text``,
      ``sentAt``, ``senderProfileId``, ``conversationUrn``);
    - ``"timeout"``: no reply came before ``deadline``;
    - ``"error"``: a failure that waiting cannot cure (bad key, no permission, unknown
      conversation...), with ``error`` (class name) and ``message``.

    A 429 is waited out until its reset time (``holdUntil``), then polling resumes; other
    passing failures (5xx, dropped connections, read timeouts) are polled through.

    :param conversation_urn: the conversation to watch.
    :param since: only messages sent after this moment count (ISO 8601 or aware datetime).
    :param account_id: the LinkedIn account; the connection's default when None.
    :param conn_id: the ConnectSafely Airflow connection.
    :param poke_interval: seconds between polls.
    :param deadline: when to give up with a ``timeout`` event (ISO 8601 or aware datetime);
        None waits forever.
    """

    def __init__(
        self,
        conversation_urn: str,
        since: datetime | str,
        account_id: str | None = None,
        conn_id: str = defaults.CONN_ID,
        poke_interval: float = 60.0,
        deadline: datetime | str | None = None,
    ) -> None:
        super().__init__()
        self.conversation_urn = conversation_urn
        self.since = iso(parse_utc(since))
        self.account_id = account_id
        self.conn_id = conn_id
        self.poke_interval = float(poke_interval)
        self.deadline = None if deadline is None else iso(parse_utc(deadline))

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            CLASSPATH,
            {
                "conversation_urn": self.conversation_urn,
                "since": self.since,
                "account_id": self.account_id,
                "conn_id": self.conn_id,
                "poke_interval": self.poke_interval,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        since = parse_utc(self.since)
        deadline = None if self.deadline is None else parse_utc(self.deadline)
        hook = read_hook(self.conn_id)
        while True:
            try:
                replies = await in_thread(
                    hook.find_replies, self.conversation_urn, since=since, account_id=self.account_id
                )
            except Exception as exc:
                wait = retry_delay(exc, self.poke_interval)
                if wait is None:
                    self.log.error("Stopped watching %s: %s", self.conversation_urn, exc)
                    yield TriggerEvent({**error_payload(exc), "conversation_urn": self.conversation_urn})
                    return
                self.log.warning(
                    "Polling %s failed (%s); next poll in %.1f s", self.conversation_urn, exc, wait
                )
            else:
                if replies:
                    self.log.info("Reply in %s: %s", self.conversation_urn, replies[0].get("messageUrn"))
                    yield TriggerEvent({"status": "success", "reply": replies[0]})
                    return
                wait = self.poke_interval
            if deadline is not None:
                left = (deadline - datetime.now(timezone.utc)).total_seconds()
                if left <= 0:
                    yield TriggerEvent(
                        {
                            "status": "timeout",
                            "conversation_urn": self.conversation_urn,
                            "since": self.since,
                            "deadline": self.deadline,
                        }
                    )
                    return
                # Wake at the deadline for one last poll.
                wait = min(wait, left)
            await asyncio.sleep(wait)
