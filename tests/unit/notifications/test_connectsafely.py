"""ConnectSafelyNotifier: templating, sync and async sends, and callbacks in a real DAG run."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time

import pytest
from helpers.connections import API_KEY, connection_json
from helpers.paths import REPO

from airflow_provider_connectsafely.errors import AuthenticationError, ConnectSafelyValidationError
from airflow_provider_connectsafely.get_provider_info import get_provider_info
from airflow_provider_connectsafely.notifications.connectsafely import (
    ConnectSafelyNotifier,
    send_linkedin_notification,
)

NOTIFIER_PATH = "airflow_provider_connectsafely.notifications.connectsafely.ConnectSafelyNotifier"


def sent(emulator) -> list[tuple[str | None, str]]:
    return [(m["recipientProfileId"] or m["recipientProfileUrn"], m["message"]) for m in emulator.messages()]


def test_alias_and_registration():
    from airflow.providers_manager import ProvidersManager

    assert send_linkedin_notification is ConnectSafelyNotifier
    assert get_provider_info()["notifications"] == [NOTIFIER_PATH]
    assert NOTIFIER_PATH in ProvidersManager().notification


def test_import_is_cheap_and_reads_no_connection():
    """A DAG file pays for this import on every parse: no HTTP stack, no connection lookup."""
    code = (
        "import sys\n"
        "import airflow.sdk\n"
        "before = set(sys.modules)\n"
        "from airflow_provider_connectsafely.notifications.connectsafely import ConnectSafelyNotifier\n"
        "n = ConnectSafelyNotifier(message='m', recipient_profile_id='x', connectsafely_conn_id='nope')\n"
        "added = set(sys.modules) - before\n"
        "heavy = {'requests', 'urllib3', 'airflow_provider_connectsafely.api.client',\n"
        "         'airflow_provider_connectsafely.hooks.connectsafely'} & added\n"
        "assert not heavy, heavy\n"
        "assert 'hook' not in vars(n)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]


def test_notify_renders_templates_and_sends(connection):
    notifier = ConnectSafelyNotifier(
        recipient_profile_id="{{ params.who }}",
        message="{{ task_id }} finished for {{ ds }}",
        account_id="{{ params.account }}",
    )
    account = "4f0062fefe7a91f9aacc4d14"  # the emulator's default account
    notifier({"params": {"who": "https://www.linkedin.com/in/jane-roe/", "account": account},
              "task_id": "load", "ds": "2026-03-01"})  # fmt: skip
    assert sent(connection) == [("jane-roe", "load finished for 2026-03-01")]
    [request] = connection.requests()
    assert request["body"]["accountId"] == account
    assert request["authorized"] is True


def test_inmail_by_urn(connection):
    ConnectSafelyNotifier(
        recipient_profile_urn="urn:li:fsd_profile:ACoAAB",
        message_type="inmail",
        subject="{{ dag_id }} needs you",
        message="Please look at {{ dag_id }}.",
    )({"dag_id": "etl"})
    [message] = connection.messages()
    assert (message["messageType"], message["subject"]) == ("inmail", "etl needs you")


def test_sync_and_async_send_the_same_request(connection, monkeypatch):
    """One payload builder: both paths build the request once and send exactly it."""
    from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook

    built, sent_requests = [], []
    real_build, real_send = ConnectSafelyHook.build_request, ConnectSafelyHook.send_request

    def build(self, **kwargs):
        built.append(real_build(self, **kwargs))
        return built[-1]

    def send(self, request):
        sent_requests.append(request)
        return real_send(self, request)

    monkeypatch.setattr(ConnectSafelyHook, "build_request", build)
    monkeypatch.setattr(ConnectSafelyHook, "send_request", send)
    kwargs = {"recipient_profile_id": "{{ params.who }}", "message": "Run {{ run_id }} done"}
    context = {"params": {"who": "ada-lovelace"}, "run_id": "r1"}

    ConnectSafelyNotifier(**kwargs)(dict(context))

    async def awaited():
        # How the triggerer runs a notifier: await it, with the context given to __init__.
        await ConnectSafelyNotifier(**kwargs, context=dict(context))

    asyncio.run(awaited())
    assert len(built) == 2
    assert sent_requests == built
    assert built[0] == built[1]
    bodies = [r["body"] for r in connection.requests()]
    assert bodies[0] == bodies[1] == {"recipientProfileId": "ada-lovelace", "message": "Run r1 done",
                                      "messageType": "normal"}  # fmt: skip


def test_async_notify_does_not_block_the_event_loop(connection):
    connection.inject("slow", delay=1.0)
    notifier = ConnectSafelyNotifier(recipient_profile_id="ada-lovelace", message="slow answer")
    notifier.render_template_fields({})
    ticks = []

    async def ticker():
        for _ in range(8):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.1)

    async def main():
        await asyncio.gather(notifier.async_notify({}), ticker())

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started >= 1.0
    assert len(ticks) == 8 and ticks[-1] - ticks[0] < 1.0  # the loop kept ticking during the send
    assert sent(connection) == [("ada-lovelace", "slow answer")]


def test_async_notify_reads_the_connection_the_way_airflow_3_1s_triggerer_answers(connection, monkeypatch):
    """In Airflow 3.1's triggerer, a connection lookup made from a thread goes through
    ``async_to_sync`` to the triggerer's event loop, whose comms lock and stream belong to that
    loop. ``async_to_sync`` finds that loop from a ``sync_to_async`` thread only; from an
    ``asyncio.to_thread`` thread it starts a loop of its own and the lookup fails. Look the
    connection up the same way here; the send itself goes to the emulator."""
    from asgiref.sync import async_to_sync

    from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook

    lookup = ConnectSafelyHook.get_connection
    triggerer_loop: list[asyncio.AbstractEventLoop] = []
    lookups_on: list[asyncio.AbstractEventLoop] = []

    async def on_the_triggerer_loop(conn_id: str):
        lookups_on.append(asyncio.get_running_loop())
        if lookups_on[-1] is not triggerer_loop[0]:
            raise RuntimeError("the triggerer's comms lock is bound to a different event loop")
        return lookup(conn_id)

    def get_connection(cls, conn_id: str):
        return async_to_sync(on_the_triggerer_loop)(conn_id)

    monkeypatch.setattr(ConnectSafelyHook, "get_connection", classmethod(get_connection))
    notifier = ConnectSafelyNotifier(recipient_profile_id="{{ params.who }}", message="Run {{ run_id }} done")
    context = {"params": {"who": "ada-lovelace"}, "run_id": "r7"}

    async def triggerer():
        triggerer_loop.append(asyncio.get_running_loop())
        # How the triggerer runs a notifier: render, then await async_notify.
        notifier.render_template_fields(context)
        await notifier.async_notify(context)

    asyncio.run(triggerer())
    assert lookups_on == triggerer_loop  # the connection was read once, on the triggerer's loop
    assert sent(connection) == [("ada-lovelace", "Run r7 done")]


def test_invalid_rendered_input_fails_before_any_request(connection):
    notifier = ConnectSafelyNotifier(recipient_profile_id="ada", message="{{ params.empty }}")
    with pytest.raises(ConnectSafelyValidationError, match="`message`"):
        notifier({"params": {"empty": " "}})
    with pytest.raises(ConnectSafelyValidationError, match="`message`"):
        asyncio.run(ConnectSafelyNotifier(recipient_profile_id="ada", message=" ").async_notify({}))
    assert connection.requests() == []


def test_wrong_key_error_and_logs_never_show_the_key(emulator, monkeypatch, caplog):
    wrong_key = "wrong-key-7c1e95d2"
    monkeypatch.setenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", connection_json(emulator.url, key=wrong_key))
    notifier = ConnectSafelyNotifier(recipient_profile_id="ada", message="hi")
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as failure:
        notifier({})
    assert "401" in str(failure.value)
    for text in (str(failure.value), repr(failure.value), caplog.text, repr(vars(notifier))):
        assert wrong_key not in text and API_KEY not in text
    assert emulator.messages() == []


def test_templates_render_again_on_every_call(connection):
    notifier = ConnectSafelyNotifier(recipient_profile_id="{{ params.who }}", message="{{ ti_id }} done")
    notifier({"params": {"who": "ada"}, "ti_id": "first"})
    notifier({"params": {"who": "alan"}, "ti_id": "second"})
    assert sent(connection) == [("ada", "first done"), ("alan", "second done")]


def test_rendered_connection_id_picks_its_own_hook(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CS_A", connection_json(emulator.url))
    monkeypatch.setenv("AIRFLOW_CONN_CS_B", connection_json(emulator.url, key="other-key-1"))
    notifier = ConnectSafelyNotifier(
        recipient_profile_id="ada", message="hi", connectsafely_conn_id="{{ params.conn }}"
    )
    notifier({"params": {"conn": "cs_a"}})
    assert notifier.hook.connectsafely_conn_id == "cs_a"
    with pytest.raises(AuthenticationError):
        notifier({"params": {"conn": "cs_b"}})
    assert [r["authorized"] for r in emulator.requests()] == [True, False]
