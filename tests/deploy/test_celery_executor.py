"""The provider in a real CeleryExecutor deployment: Redis (Debian's ``redis-server``) as the
broker, PostgreSQL as the metadata database and as the send ledger every worker shares, and two
``airflow celery worker`` processes with different host names (``--celery-hostname``, and
``[core] hostname_callable`` so each reports its own host, as on two machines).

- 300 mapped sends spread over both workers: each recipient exactly once.
- The same with one worker killed with SIGKILL mid-run: once Airflow has retried or failed the
  lost task instances, no recipient got two messages, and every recipient is sent, or
  recorded (ledger row, failed task with the reason in its log): none lost silently.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.connections import connection_json
from helpers.deployment import Deployment, Emulator, ledger_rows
from helpers.pg_cluster import PgCluster
from helpers.redis_server import RedisServer

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]

WORKERS = ("worker-a", "worker-b")
CONCURRENCY = 4
LEDGER_DB = "ledger_celery"
SLOW_SENDS = 12


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def celery(
    tmp_path_factory, deploy_pg: PgCluster, deploy_emulator: Emulator, redis: RedisServer
) -> Iterator[Deployment]:
    metadata = deploy_pg.create_database("airflow_celery")
    deploy_pg.create_database(LEDGER_DB)
    deployment = Deployment(
        tmp_path_factory.mktemp("celery-home"),
        executor="CeleryExecutor",
        metadata_url=metadata,
        emulator=deploy_emulator,
        env={
            "AIRFLOW__CORE__PARALLELISM": "16",
            "AIRFLOW__CELERY__BROKER_URL": redis.url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(CONCURRENCY),
            # A lost worker's task instances: found after 20 s without a heartbeat; tasks it
            # took from the queue but never started: given back after 60 s.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "60",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
            # The ledger every worker shares: a PostgreSQL connection, named by the
            # ConnectSafely connection's ledger_conn_id extra.
            "AIRFLOW_CONN_CONNECTSAFELY_LEDGER": json.dumps(deploy_pg.connection(LEDGER_DB)),
            "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT": connection_json(
                deploy_emulator.url, ledger_conn_id="connectsafely_ledger"
            ),
        },
    )
    try:
        deployment.migrate()
        deployment.start_api_server()
        deployment.start("scheduler", "scheduler")
        deployment.start("dag-processor", "dag-processor")
        for name in WORKERS:
            deployment.start_as_host(
                name,
                *("celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", str(CONCURRENCY)),
                *("--pid", str(deployment.path / f"{name}.pid"), "--without-mingle", "--without-gossip"),
                log_port_setting="AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
            )
        assert deployment.api is not None
        deployment.api.wait_ready()
        for name in WORKERS:
            worker = deployment.service(name)
            worker.wait_until(
                lambda worker=worker: " ready." in worker.log(), "Celery worker ready", timeout=120
            )
        deployment.wait_for_dags("deploy_mapped", "deploy_mapped_retry")
        yield deployment
    finally:
        deployment.stop()
        deployment.archive_and_remove("celery")


def sends(deployment: Deployment, dag_id: str, run_id: str) -> dict[int, dict[str, Any]]:
    return {
        ti["map_index"]: ti for ti in deployment.task_instances(dag_id, run_id) if ti["task_id"] == "send"
    }


def test_300_mapped_sends_spread_over_two_workers(celery, deploy_pg, deploy_emulator):
    recipients = {f"celery-{number:03d}" for number in range(300)}
    run_id = celery.trigger("deploy_mapped", {"prefix": "celery", "count": 300})
    assert celery.wait_for_run("deploy_mapped", run_id, timeout=600) == "success"

    tis = sends(celery, "deploy_mapped", run_id)
    assert len(tis) == 300
    assert {(ti["state"], ti["try_number"]) for ti in tis.values()} == {("success", 1)}
    by_worker = collections.Counter(ti["hostname"] for ti in tis.values())
    print(f"300 mapped sends by worker: {dict(by_worker)}")
    assert set(by_worker) == set(WORKERS) and min(by_worker.values()) >= 30

    assert deploy_emulator.per_recipient("celery-") == dict.fromkeys(recipients, 1)
    rows = {r: row for r, row in ledger_rows(deploy_pg.url(LEDGER_DB)).items() if r in recipients}
    assert len(rows) == 300 and {row["state"] for row in rows.values()} == {"sent"}


def attempt_logs(deployment: Deployment, dag_id: str, run_id: str, map_index: int) -> str:
    """Every attempt's log of one mapped send, oldest first."""
    logs = deployment.task_logs(dag_id, run_id)
    mine = [p for p in logs if p.parent.name == f"map_index={map_index}" and p.name.endswith(".log")]
    return "".join(logs[p] for p in sorted(mine))


def test_a_worker_killed_mid_run_loses_nobody_and_sends_nobody_twice(celery, deploy_pg, deploy_emulator):
    count = 300
    recipients = [f"kill-{number:03d}" for number in range(count)]
    run_id = celery.trigger("deploy_mapped_retry", {"prefix": "kill", "count": count})

    # Half way through, the API answers the next sends 8 s late (after delivering them),
    # so the worker dies with sends delivered and not yet recorded, the case that matters.
    celery.wait(
        lambda: sum(deploy_emulator.per_recipient("kill-").values()) >= count // 2, "half the sends", 300
    )
    deploy_emulator.inject("slow", count=SLOW_SENDS, delay=8)

    def busy_on_b() -> list[dict[str, Any]]:
        if deploy_emulator.faults_left() > SLOW_SENDS // 2:
            return []
        tis = sends(celery, "deploy_mapped_retry", run_id).values()
        return [ti for ti in tis if ti["state"] == "running" and ti["hostname"] == "worker-b"]

    running_on_b = celery.wait(busy_on_b, "worker-b in the middle of slow sends", timeout=120, every=0.2)
    celery.kill(celery.service("worker-b"))
    print(f"worker-b SIGKILLed while running map indexes {sorted(ti['map_index'] for ti in running_on_b)}")
    state = celery.wait_for_run("deploy_mapped_retry", run_id, timeout=600)

    tis = sends(celery, "deploy_mapped_retry", run_id)
    delivered = deploy_emulator.per_recipient("kill-")
    rows = ledger_rows(deploy_pg.url(LEDGER_DB))
    assert len(tis) == count
    # No recipient got two messages.
    assert set(delivered.values()) <= {1}, {r: n for r, n in delivered.items() if n > 1}
    outcomes: collections.Counter[str] = collections.Counter()
    for index, recipient in enumerate(recipients):
        ti, row = tis[index], rows.get(recipient)
        if ti["state"] == "success":
            # A successful task means delivered once and recorded sent, whichever try it took.
            assert delivered[recipient] == 1 and row is not None and row["state"] == "sent", (ti, row)
            outcomes["sent" if ti["try_number"] == 1 else "sent after a retry"] += 1
            continue
        # Not sent for sure: the task failed, the ledger keeps the claim the dead worker left
        # (it may have gone out), and the last try's log says why it was not sent again.
        assert ti["state"] == "failed", ti
        assert row is not None and row["state"] in ("pending", "unknown"), (ti, row)
        log = attempt_logs(celery, "deploy_mapped_retry", run_id, index)
        assert "It may have been delivered, so it was not sent again" in log, log[-3000:]
        outcomes[f"{row['state']} (delivered {delivered[recipient]})"] += 1
    print(f"run {state}; outcomes after the kill: {dict(outcomes)}")
    # Nothing sent without a claim.
    assert set(delivered) <= set(rows)
    # The kill hit sends in progress: Airflow retried them on worker-a, or they failed with
    # the reason above; never lost.
    hit = [ti for ti in tis.values() if ti["try_number"] > 1 or ti["state"] == "failed"]
    print(f"hit by the kill: {[(ti['map_index'], ti['state'], ti['try_number']) for ti in hit]}")
    assert hit and {ti["hostname"] for ti in hit if ti["state"] == "success"} <= {"worker-a"}
