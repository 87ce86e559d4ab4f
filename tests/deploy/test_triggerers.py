"""Two triggerers, one reply watcher: the watcher's memory is in the shared ledger, so the
triggerer that takes it over after the first one is killed carries on where it stopped.

A LocalExecutor deployment (api-server, scheduler, dag-processor and two ``airflow triggerer``
processes) whose ledger is a PostgreSQL database named by ``[connectsafely] ledger_conn_id``.
The DAG ``deploy_on_reply`` is scheduled on ``connectsafely://replies/default``, watched by
``LinkedInRepliesEventTrigger``. Replies arrive, the triggerer holding the watcher is
SIGKILLed, more replies arrive while nobody holds it, the other triggerer takes it over: every
reply must become exactly one asset event.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from helpers.deployment import Deployment, Emulator
from helpers.pg_cluster import PgCluster
from sqlalchemy import create_engine, text

from airflow_provider_connectsafely.ledger.store import SendLedger

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(600)]

DAGS = Path(__file__).parent / "dags_replies"
ASSET = "connectsafely://replies/default"
CLASSPATH = "airflow_provider_connectsafely.triggers.reply_events.LinkedInRepliesEventTrigger"
#: How soon a triggerer that stopped heartbeating is taken as dead and its triggers move.
HEALTH_THRESHOLD = 10
TRIGGERERS = ("triggerer-a", "triggerer-b")


@pytest.fixture(scope="module")
def metadata_url(deploy_pg: PgCluster) -> str:
    return deploy_pg.create_database("airflow_triggerers")


@pytest.fixture(scope="module")
def ledger_url(deploy_pg: PgCluster) -> str:
    return deploy_pg.create_database("ledger_triggerers")


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory, deploy_pg: PgCluster, deploy_emulator: Emulator, metadata_url: str, ledger_url: str
) -> Iterator[Deployment]:
    import json

    deployment = Deployment(
        tmp_path_factory.mktemp("triggerers-home"),
        executor="LocalExecutor",
        metadata_url=metadata_url,
        emulator=deploy_emulator,
        dags=DAGS,
        env={
            "AIRFLOW__CONNECTSAFELY__LEDGER_CONN_ID": "shared_ledger",
            "AIRFLOW_CONN_SHARED_LEDGER": json.dumps(deploy_pg.connection("ledger_triggerers")),
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(HEALTH_THRESHOLD),
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
        },
    )
    try:
        deployment.migrate()
        deployment.start_api_server()
        deployment.start("scheduler", "scheduler")
        deployment.start("dag-processor", "dag-processor")
        for name in TRIGGERERS:
            deployment.start_as_host(
                name, "triggerer", log_port_setting="AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"
            )
        assert deployment.api is not None
        deployment.api.wait_ready()
        deployment.wait_for_dags("deploy_on_reply")
        yield deployment
    finally:
        deployment.stop()
        deployment.archive_and_remove("triggerers")


def holder(metadata_url: str) -> tuple[int, str] | None:
    """``(job id, host name)`` of the triggerer running the reply watcher (each triggerer
    reports its service name as host name), or None while nobody does."""
    engine = create_engine(metadata_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT job.id, job.hostname FROM trigger JOIN job ON job.id = trigger.triggerer_id "
                    "WHERE trigger.classpath = :classpath AND job.state = 'running'"
                ),
                {"classpath": CLASSPATH},
            ).first()
    finally:
        engine.dispose()
    return None if row is None else (int(row[0]), str(row[1]))


def events_per_reply(metadata_url: str) -> collections.Counter[str]:
    """Asset events of the replies asset, counted by the reply's ``messageUrn``. Read from the
    metadata database: Airflow 3.3.2's ``GET /assets/events`` answers 500 while a DAG run an
    event created has not started yet (its ``start_date`` is null)."""
    import json

    engine = create_engine(metadata_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT asset_event.extra FROM asset_event JOIN asset ON asset.id = asset_event.asset_id "
                    "WHERE asset.uri = :uri"
                ),
                {"uri": ASSET},
            ).all()
    finally:
        engine.dispose()
    extras = [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]
    return collections.Counter(str(extra["payload"]["messageUrn"]) for extra in extras)


def reply(emulator: Emulator, who: str) -> str:
    answer = requests.post(
        f"{emulator.url}/_emulator/reply", json={"profileId": who, "text": f"Hello from {who}"}, timeout=30
    )
    answer.raise_for_status()
    return str(answer.json()["message"]["messageUrn"])


def wait_for_events(deployment: Deployment, metadata_url: str, urns: list[str], timeout: float = 180) -> None:
    def all_there() -> bool:
        deployment.check_alive()
        return set(urns) <= set(events_per_reply(metadata_url))

    deployment.wait(all_there, f"asset events for {len(urns)} replies", timeout=timeout, every=1)


def test_every_reply_is_one_asset_event_across_a_killed_triggerer(
    deployment: Deployment, deploy_emulator: Emulator, metadata_url: str, ledger_url: str
):
    first = deployment.wait(
        lambda: holder(metadata_url), "a triggerer to take the reply watcher", timeout=120
    )
    before = [reply(deploy_emulator, f"early-{n}") for n in range(3)]
    wait_for_events(deployment, metadata_url, before)

    deployment.kill(deployment.service(first[1]))
    during = [reply(deploy_emulator, f"orphan-{n}") for n in range(3)]

    second = deployment.wait(
        lambda: (found := holder(metadata_url)) is not None and found[0] != first[0] and found,
        "the other triggerer to take over the reply watcher",
        timeout=120,
    )
    assert second[1] != first[1] and second[1] in TRIGGERERS
    after = [reply(deploy_emulator, f"late-{n}") for n in range(2)]
    wait_for_events(deployment, metadata_url, during + after)

    counted = events_per_reply(metadata_url)
    assert counted == collections.Counter(before + during + after), counted
    # The watermark is the ledger's: no file under either triggerer's AIRFLOW_HOME.
    assert not list(deployment.path.glob("connectsafely/reply-watermarks/*"))
    ledger = SendLedger.from_url(ledger_url)
    try:
        with ledger.engine.connect() as conn:
            keys = [row[0] for row in conn.execute(text("SELECT key FROM connectsafely_trigger_state"))]
    finally:
        ledger.close()
    assert keys == ["reply-watermark:connectsafely_default||"]
