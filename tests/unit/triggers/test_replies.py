"""The reply triggers run with asyncio against the emulator over loopback (no Airflow
metadata database). Times are relative to the emulator's clock: nothing depends on today's date."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_connectsafely.triggers import watermark
from airflow_provider_connectsafely.triggers.replies import LinkedInReplyTrigger
from airflow_provider_connectsafely.triggers.reply_events import LinkedInRepliesEventTrigger

POKE = 0.2


def now() -> datetime:
    return datetime.now(timezone.utc)


async def first_event(trigger: Any, within: float = 10.0) -> dict:
    async def take() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(take(), within)


async def reply_after_a_poll(emulator, **kwargs: Any) -> dict:
    """Reply once the trigger has polled and found nothing (however long its start took)."""
    while not any(r["method"] == "GET" and r["status"] == 200 for r in emulator.requests()):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)
    return await asyncio.to_thread(emulator.reply, **kwargs)


def old_conversation(emulator, profile_id: str = "ann-lee") -> str:
    """A conversation with a reply from an hour ago (before any ``since`` used here)."""
    return emulator.reply(profile_id=profile_id, text="old news", at=now() - timedelta(hours=1))[
        "conversationUrn"
    ]


def reply_trigger(urn: str, **kwargs: Any) -> LinkedInReplyTrigger:
    args: dict[str, Any] = {"since": now() - timedelta(seconds=1), "poke_interval": POKE}
    args.update(kwargs)
    return LinkedInReplyTrigger(conversation_urn=urn, **args)


# -- LinkedInReplyTrigger ------------------------------------------------------------------


def test_reply_during_polling_fires_the_event(connection):
    urn = old_conversation(connection)
    trigger = reply_trigger(urn, deadline=now() + timedelta(seconds=30))

    async def scenario() -> tuple[dict, dict]:
        later = asyncio.ensure_future(
            reply_after_a_poll(connection, conversation_urn=urn, text="Sounds good")
        )
        payload = await first_event(trigger)
        return payload, await later

    payload, made = asyncio.run(scenario())
    assert payload["status"] == "success"
    reply = payload["reply"]
    assert reply["messageUrn"] == made["messageUrn"]
    assert reply["text"] == "Sounds good" and reply["conversationUrn"] == urn
    reads = [r for r in connection.requests() if r["method"] == "GET"]
    assert len(reads) >= 2  # polled at least once before the reply existed
    assert not connection.messages()  # polling never sends


def held_until(first_429: dict, seconds: int) -> datetime:
    """The emulator's ``holdUntil``: the 429's time plus ``seconds``, cut to whole seconds."""
    return (parse(first_429["at"]) + timedelta(seconds=seconds)).replace(microsecond=0)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_rate_limit_while_polling_is_waited_out(connection):
    urn = old_conversation(connection)
    connection.reply(conversation_urn=urn, text="Already here")
    connection.inject("rate_limit_hold_until", seconds=2)
    trigger = reply_trigger(urn, since=now() - timedelta(seconds=5), deadline=now() + timedelta(seconds=30))

    payload = asyncio.run(first_event(trigger))

    assert payload["status"] == "success" and payload["reply"]["text"] == "Already here"
    limited, ok = connection.requests()
    assert (limited["status"], ok["status"]) == (429, 200)
    # Waited until holdUntil (at least a second away), not one poke interval.
    assert parse(ok["at"]) >= held_until(limited, 2)


def test_deadline_produces_a_timeout_event(connection):
    urn = old_conversation(connection)
    trigger = reply_trigger(urn, deadline=now() + timedelta(seconds=0.7))

    started = time.monotonic()
    payload = asyncio.run(first_event(trigger))

    assert payload["status"] == "timeout"
    assert payload["conversation_urn"] == urn
    assert 0.6 <= time.monotonic() - started < 5


def test_unknown_conversation_is_an_error_event(connection):
    trigger = reply_trigger("urn:li:msg_conversation:2-" + "0" * 32, deadline=now() + timedelta(seconds=30))
    payload = asyncio.run(first_event(trigger))
    assert payload["status"] == "error" and payload["error"] == "NotFoundError"


def test_bad_key_is_an_error_event(connection, monkeypatch):
    from helpers.connections import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_CS_BAD", connection_json(connection.url, key="wrong-key"))
    trigger = reply_trigger("urn:li:msg_conversation:2-" + "0" * 32, conn_id="cs_bad")
    payload = asyncio.run(first_event(trigger))
    assert payload["status"] == "error" and payload["error"] == "AuthenticationError"
    assert "wrong-key" not in str(payload)


def test_reply_trigger_serializes_to_strings_and_round_trips():
    since = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
    trigger = LinkedInReplyTrigger(
        conversation_urn="urn:li:msg_conversation:2-abc",
        since=since,
        account_id="acc-1",
        conn_id="cs",
        poke_interval=0.5,
        deadline="2026-05-08T12:00:00Z",
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_connectsafely.triggers.replies.LinkedInReplyTrigger"
    assert kwargs == {
        "conversation_urn": "urn:li:msg_conversation:2-abc",
        "since": "2026-05-01T12:00:00+00:00",
        "account_id": "acc-1",
        "conn_id": "cs",
        "poke_interval": 0.5,
        "deadline": "2026-05-08T12:00:00+00:00",
    }
    assert LinkedInReplyTrigger(**kwargs).serialize() == (classpath, kwargs)


# -- LinkedInRepliesEventTrigger -----------------------------------------------------------


async def collect(trigger: LinkedInRepliesEventTrigger, into: list[dict]) -> None:
    run: AsyncIterator = trigger.run()
    async for event in run:
        into.append(event.payload)


async def run_until(trigger: LinkedInRepliesEventTrigger, count: int, settle: float = 0.0) -> list[dict]:
    """Run the trigger until ``count`` events came (and ``settle`` more seconds passed), then
    cancel it, as a triggerer shutting down does."""
    events: list[dict] = []
    task = asyncio.ensure_future(collect(trigger, events))
    try:
        deadline = time.monotonic() + 10
        while len(events) < count and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.05)
        await asyncio.sleep(settle)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    if task.done() and not task.cancelled() and task.exception():
        raise task.exception()  # type: ignore[misc]
    return events


def event_trigger(tmp_path: Path, **kwargs: Any) -> LinkedInRepliesEventTrigger:
    return LinkedInRepliesEventTrigger(poke_interval=POKE, lookback=60, **kwargs)


def stored_mark(conn_id: str = "connectsafely_default", account_id: str | None = None) -> Any:
    """The watermark as the ledger holds it (the default ledger of this test)."""
    from airflow_provider_connectsafely.ledger import locate
    from airflow_provider_connectsafely.ledger.trigger_state import TriggerStateStore

    ledger = locate.open_ledger(locate.locate(connectsafely_conn_id=conn_id))
    return watermark.WatermarkStore(
        TriggerStateStore(ledger), watermark.state_key(conn_id, account_id)
    ).load()


def test_event_trigger_yields_each_reply_once_and_survives_a_restart(connection, tmp_path):
    old_conversation(connection, "ann-lee")  # before the watcher started: never delivered
    trigger = event_trigger(tmp_path)

    async def first_run() -> tuple[list[dict], list[dict]]:
        async def replies() -> list[dict]:
            a = await reply_after_a_poll(connection, profile_id="ann-lee", text="Hi back")
            b = await asyncio.to_thread(connection.reply, profile_id="bo-chen", text="Tell me more")
            return [a, b]

        made = asyncio.ensure_future(replies())
        events = await run_until(trigger, 2, settle=3 * POKE)
        return events, await made

    events, made = asyncio.run(first_run())
    assert [e["messageUrn"] for e in events] == [m["messageUrn"] for m in made]
    assert [e["text"] for e in events] == ["Hi back", "Tell me more"]
    assert all(e["conversationUrn"] and e["sentAt"] for e in events)

    # A triggerer restart: Airflow rebuilds the trigger from its serialised kwargs.
    classpath, kwargs = trigger.serialize()
    assert kwargs["since"] is None  # the kwargs never change: they identify the trigger
    module, _, name = classpath.rpartition(".")
    reborn = getattr(importlib.import_module(module), name)(**kwargs)
    third = connection.reply(profile_id="cy-young", text="Yes please")
    again = asyncio.run(run_until(reborn, 1, settle=3 * POKE))
    assert [e["messageUrn"] for e in again] == [third["messageUrn"]]


def test_event_trigger_delivers_a_late_reply_with_the_same_time(connection, tmp_path):
    at = now() + timedelta(seconds=1)
    first = connection.reply(profile_id="ann-lee", text="first", at=at)
    trigger = event_trigger(tmp_path, since=now() - timedelta(seconds=5))
    events = asyncio.run(run_until(trigger, 1, settle=2 * POKE))
    assert [e["messageUrn"] for e in events] == [first["messageUrn"]]

    tie = connection.reply(profile_id="bo-chen", text="same moment", at=at)
    events = asyncio.run(run_until(LinkedInRepliesEventTrigger(**trigger.serialize()[1]), 1, settle=2 * POKE))
    assert [e["messageUrn"] for e in events] == [tie["messageUrn"]]
    stored = stored_mark()
    assert stored is not None and set(stored.seen) == {first["messageUrn"], tie["messageUrn"]}


def test_event_trigger_waits_out_a_rate_limit(connection, tmp_path):
    trigger = event_trigger(tmp_path, since=now() - timedelta(seconds=5))
    made = connection.reply(profile_id="ann-lee", text="hello")
    connection.inject("rate_limit_hold_until", seconds=1)
    events = asyncio.run(run_until(trigger, 1))
    assert [e["messageUrn"] for e in events] == [made["messageUrn"]]
    limited, ok = connection.requests()[:2]
    assert (limited["status"], ok["status"]) == (429, 200)
    assert parse(ok["at"]) >= held_until(limited, 1)


def test_event_trigger_stops_on_a_bad_key(connection, tmp_path, monkeypatch):
    from helpers.connections import connection_json

    from airflow_provider_connectsafely.errors import AuthenticationError

    monkeypatch.setenv("AIRFLOW_CONN_CS_BAD", connection_json(connection.url, key="wrong-key"))
    trigger = event_trigger(tmp_path, conn_id="cs_bad")
    with pytest.raises(AuthenticationError):
        asyncio.run(run_until(trigger, 1))


def test_event_trigger_serializes_and_is_an_asset_watcher_trigger(tmp_path):
    from airflow.sdk import Asset, AssetWatcher
    from airflow.triggers.base import BaseEventTrigger

    trigger = LinkedInRepliesEventTrigger(account_id="acc-1", conn_id="cs", poke_interval=30)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_connectsafely.triggers.reply_events.LinkedInRepliesEventTrigger"
    assert kwargs == {
        "account_id": "acc-1",
        "conn_id": "cs",
        "poke_interval": 30.0,
        "since": None,
        "lookback": 300.0,
        "watermark_key": "",
        "state_path": None,
        "opt_out": True,
    }
    assert all(v is None or isinstance(v, (str, float, bool)) for v in kwargs.values())
    assert LinkedInRepliesEventTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert isinstance(trigger, BaseEventTrigger)
    asset = Asset("connectsafely://replies/acc-1", watchers=[AssetWatcher(name="replies", trigger=trigger)])
    assert asset.watchers[0].trigger is trigger


def test_watermarks_are_per_connection_account_and_key():
    a = watermark.state_key("cs", "acc-1")
    assert len({a, watermark.state_key("cs", "acc-2"), watermark.state_key("cs", "acc-1", "x")}) == 3


def test_two_triggerers_writing_at_once_merge_what_they_delivered(isolated_default_ledger):
    from airflow_provider_connectsafely.ledger.store import SendLedger
    from airflow_provider_connectsafely.ledger.trigger_state import TriggerStateStore

    start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    lookback = timedelta(minutes=5)
    ledgers = [SendLedger.sqlite(isolated_default_ledger) for _ in range(2)]
    one, two = (watermark.WatermarkStore(TriggerStateStore(ledger), "k") for ledger in ledgers)
    first = watermark.Watermark(at=start)
    one.save(first, lookback)
    mine, theirs = one.load(), two.load()
    assert mine is not None and theirs is not None
    mine.record({"messageUrn": "m1", "sentAt": "2026-03-02T09:01:00Z"}, lookback)
    theirs.record({"messageUrn": "m2", "sentAt": "2026-03-02T09:02:00Z"}, lookback)
    one.save(mine, lookback)
    two.save(theirs, lookback)  # conflicts with one's write: merges instead of overwriting
    stored = one.load()
    assert stored is not None and set(stored.seen) == {"m1", "m2"}
    assert stored.at == datetime(2026, 3, 2, 9, 2, tzinfo=timezone.utc)
    for ledger in ledgers:
        ledger.close()


def test_a_watermark_file_of_release_0_1_is_taken_over(connection, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    delivered = connection.reply(profile_id="ann-lee", text="already delivered by 0.1")
    path = watermark.legacy_file("connectsafely_default", None)
    path.parent.mkdir(parents=True)
    mark = watermark.Watermark(at=now() - timedelta(seconds=30))
    mark.record(delivered, timedelta(seconds=60))
    path.write_text(json.dumps(mark.to_dict()), encoding="utf-8")

    fresh = connection.reply(profile_id="bo-chen", text="new")
    events = asyncio.run(run_until(event_trigger(tmp_path), 1, settle=3 * POKE))
    assert [e["messageUrn"] for e in events] == [fresh["messageUrn"]]
    stored = stored_mark()
    assert stored is not None and delivered["messageUrn"] in stored.seen


def test_event_trigger_suppresses_the_sender_of_an_opt_out_and_flags_the_event(connection, tmp_path):
    from airflow_provider_connectsafely.ledger import locate

    trigger = event_trigger(tmp_path, since=now() - timedelta(seconds=5))
    connection.reply(profile_id="ann-lee", text="Bitte nicht mehr kontaktieren.\nDanke")
    connection.reply(profile_id="bo-chen", text="Stop by our booth tomorrow!")

    events = asyncio.run(run_until(trigger, 2, settle=POKE))

    assert [(e["senderProfileId"], e.get("optOut", False)) for e in events] == [
        ("ann-lee", True),
        ("bo-chen", False),
    ]
    ledger = locate.open_ledger(locate.locate())
    [entry] = ledger.suppressions()
    assert (entry.person, entry.scope, entry.source) == ("ann-lee", "", "reply")
    assert entry.reason == "Bitte nicht mehr kontaktieren."
