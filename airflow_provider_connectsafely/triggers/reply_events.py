"""An event trigger for ``AssetWatcher``: one asset event per new LinkedIn reply.

Example (a DAG run per reply; the reply is the asset event's ``extra["payload"]``)::

    from airflow.sdk import DAG, Asset, AssetWatcher

    from airflow_provider_connectsafely.triggers.reply_events import LinkedInRepliesEventTrigger

    replies = Asset(
        "connectsafely://replies/default",
        watchers=[AssetWatcher(name="linkedin_replies", trigger=LinkedInRepliesEventTrigger())],
    )
    with DAG("on_linkedin_reply", schedule=[replies]): ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

# BaseEventTrigger lives here on Airflow 3.1 and 3.3 alike (the Task SDK does not export it).
from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.clock import parse_utc
from airflow_provider_connectsafely.outreach.opt_out import detector, suppress_if_opted_out
from airflow_provider_connectsafely.triggers import watermark
from airflow_provider_connectsafely.triggers.polling import (
    in_thread,
    iso,
    read_hook,
    retry_delay,
)

CLASSPATH = "airflow_provider_connectsafely.triggers.reply_events.LinkedInRepliesEventTrigger"


class LinkedInRepliesEventTrigger(BaseEventTrigger):
    """Poll an account's conversations and fire one event per new reply, oldest first.

    Each event's payload is the reply (``messageUrn``, ``text``, ``sentAt``,
    ``senderProfileId``, ``conversationUrn``) plus ``accountId``; Airflow puts it in the
    asset event's ``extra["payload"]``.

    **No reply twice, none lost.** Delivered replies are remembered in the send ledger's
    database (see :mod:`~airflow_provider_connectsafely.triggers.watermark`), found as the
    tasks find it (``[connectsafely] ledger_conn_id``, else the connection's ``ledger_conn_id``
    extra, else the default SQLite file), so every triggerer of a deployment shares it: the
    newest delivered ``sentAt`` plus the ``messageUrn`` of replies within ``lookback`` of it.
    Each poll asks for replies after ``watermark - lookback`` and skips known URNs, so a
    trigger started again, on this triggerer or another, carries on where the last one
    stopped. A reply is recorded right after the triggerer takes its event: a crash in between
    can repeat that one reply, never lose it (``messageUrn`` is in the payload for consumers
    that must be strict).

    Failures: a 429 is waited out until its reset; passing failures are polled through;
    a bad key or missing permission raises, which fails the trigger visibly in Airflow.

    :param account_id: the LinkedIn account; the connection's default when None.
    :param conn_id: the ConnectSafely Airflow connection.
    :param poke_interval: seconds between polls.
    :param since: on the very first run (no stored watermark), only replies after this
        moment count (ISO 8601); None: replies after the first poll's start. Ignored once a
        watermark is stored.
    :param lookback: seconds before the watermark still asked for, to catch replies the API
        lists late or with equal times.
    :param watermark_key: tells apart several watchers of the same connection and account
        (each delivers every reply); they share one watermark when equal.
    :param state_path: release 0.1's watermark file, read once when the ledger holds no
        watermark for this watcher yet (the default file under ``$AIRFLOW_HOME`` is read
        likewise).
    :param opt_out: True (the default phrases), False, or a list of phrases instead of them:
        a reply that asks to stop puts its sender on the ledger's do-not-contact list
        everywhere before its event fires (``optOut: true`` in the payload). A write to the
        ledger, like the watermark's; nothing is sent.
    """

    def __init__(
        self,
        account_id: str | None = None,
        conn_id: str = defaults.CONN_ID,
        poke_interval: float = 60.0,
        since: datetime | str | None = None,
        lookback: float = 300.0,
        watermark_key: str = "",
        state_path: str | None = None,
        opt_out: bool | list[str] = True,
    ) -> None:
        super().__init__()
        self.account_id = account_id
        self.conn_id = conn_id
        self.poke_interval = float(poke_interval)
        self.since = None if since is None else iso(parse_utc(since))
        self.lookback = float(lookback)
        self.watermark_key = watermark_key
        self.state_path = state_path
        self.opt_out = opt_out if isinstance(opt_out, bool) else list(opt_out)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            CLASSPATH,
            {
                "account_id": self.account_id,
                "conn_id": self.conn_id,
                "poke_interval": self.poke_interval,
                "since": self.since,
                "lookback": self.lookback,
                "watermark_key": self.watermark_key,
                "state_path": self.state_path,
                "opt_out": self.opt_out,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        lookback = timedelta(seconds=self.lookback)
        store, mark = await in_thread(self._load)
        self.log.info(
            "Watching replies of %s from %s (state in the send ledger %s)",
            self._who(),
            iso(mark.at),
            store.states.ledger.describe(),
        )
        hook = read_hook(self.conn_id)
        found = detector(self.opt_out)
        while True:
            try:
                grouped = await in_thread(
                    hook.recent_replies, since=mark.query_since(lookback), account_id=self.account_id
                )
            except Exception as exc:
                wait = retry_delay(exc, self.poke_interval)
                if wait is None:
                    raise
                self.log.warning(
                    "Polling replies of %s failed (%s); next poll in %.1f s", self._who(), exc, wait
                )
                await asyncio.sleep(wait)
                continue
            for reply in _oldest_first(grouped):
                if not mark.is_new(reply):
                    continue
                payload = {**reply, "accountId": reply.get("accountId") or self.account_id}
                if found is not None and found(reply.get("text")):
                    person = reply.get("senderProfileId") or reply.get("senderProfileUrn")
                    await in_thread(
                        suppress_if_opted_out, store.states.ledger, found, person, reply.get("text")
                    )
                    payload["optOut"] = True
                yield TriggerEvent(payload)
                # Resumed: the triggerer has taken the event.
                mark.record(reply, lookback)
                await in_thread(store.save, mark, lookback)
            await asyncio.sleep(self.poke_interval)

    def _load(self) -> tuple[watermark.WatermarkStore, watermark.Watermark]:
        """This watcher's stored watermark; on its very first run, release 0.1's file or
        ``since`` (else now), stored at once."""
        from airflow_provider_connectsafely.ledger import locate
        from airflow_provider_connectsafely.ledger.trigger_state import TriggerStateStore

        ledger = locate.open_ledger(locate.locate(connectsafely_conn_id=self.conn_id), self.log)
        key = watermark.state_key(self.conn_id, self.account_id, self.watermark_key)
        store = watermark.WatermarkStore(TriggerStateStore(ledger), key)
        mark = store.load()
        if mark is None:
            path = watermark.legacy_file(self.conn_id, self.account_id, self.watermark_key, self.state_path)
            mark = watermark.load_file(path)
            if mark is None:
                start = parse_utc(self.since) if self.since else datetime.now(timezone.utc)
                mark = watermark.Watermark(at=start)
            store.save(mark, timedelta(seconds=self.lookback))
        return store, mark

    def _who(self) -> str:
        return f"account {self.account_id or '(connection default)'} via {self.conn_id}"


def _oldest_first(grouped: dict[str, list[dict]]) -> list[dict]:
    replies = []
    for conversation_urn, items in grouped.items():
        for reply in items:
            replies.append({"conversationUrn": conversation_urn, **reply})
    return sorted(replies, key=lambda r: (parse_utc(r["sentAt"]), str(r.get("messageUrn"))))
