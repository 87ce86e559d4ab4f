"""The provider in a real LocalExecutor deployment: ``api-server``, ``scheduler``,
``dag-processor`` and ``triggerer`` as separate processes, DAG runs triggered and read through
the REST API.

- A send whose daily cap is reached defers, the running triggerer holds it, and it resumes to
  success (the cap's window shortened with ``CONNECTSAFELY_TESTING_CAP_WINDOW_SECONDS`` in the
  processes' environment, the provider's documented test switch).
- Clearing a finished run resends nothing.
- 50 mapped sends with ``parallelism`` 8 on the default SQLite ledger: each recipient once, and
  no "database is locked".
- The ledger's PostgreSQL restarted in the middle of a batch: the batch fails with the error,
  nothing was sent without a claim, and a rerun completes it without duplicates.
- The approval example (``connectsafely_approved_send``): its preview read and answered through
  the REST API; "Reject" sends nothing, "Approve" sends each recipient once.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.deployment import TERMINAL, Deployment, Emulator, ledger_rows
from helpers.paths import EXAMPLE_DAGS
from helpers.pg_cluster import PgCluster

from airflow_provider_connectsafely.testing import TESTING_CAP_WINDOW_ENV

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]

#: The cap's window in the deployment (seconds). The run starts just after a window opens,
#: so the deferral lasts most of a window: Airflow's LocalExecutor reports the end of the
#: deferred process a few seconds late, and a task resumed before that report is marked failed
#: by the scheduler (see docs/deployment.md).
CAP_WINDOW = 20
PARALLELISM = 8
#: The example DAG that waits for a person's approval (deployed with its data folder).
APPROVAL = "connectsafely_approved_send"


@pytest.fixture(scope="module")
def local(tmp_path_factory, deploy_pg: PgCluster, deploy_emulator: Emulator) -> Iterator[Deployment]:
    deployment = Deployment(
        tmp_path_factory.mktemp("local-home"),
        executor="LocalExecutor",
        metadata_url=deploy_pg.create_database("airflow_local"),
        emulator=deploy_emulator,
        env={"AIRFLOW__CORE__PARALLELISM": str(PARALLELISM), TESTING_CAP_WINDOW_ENV: str(CAP_WINDOW)},
    )
    shutil.copy(EXAMPLE_DAGS / f"{APPROVAL}.py", deployment.path / "dags")
    shutil.copytree(EXAMPLE_DAGS / "data", deployment.path / "dags" / "data")
    try:
        deployment.migrate()
        deployment.start_api_server()
        deployment.start("scheduler", "scheduler")
        deployment.start("dag-processor", "dag-processor")
        deployment.start("triggerer", "triggerer")
        assert deployment.api is not None
        deployment.api.wait_ready()
        deployment.wait_for_dags("deploy_capped", "deploy_mapped", "deploy_pg_batch", APPROVAL)
        yield deployment
    finally:
        deployment.stop()
        deployment.archive_and_remove("local")


def default_ledger(deployment: Deployment) -> str:
    """The default SQLite ledger every task of a LocalExecutor deployment shares."""
    return f"sqlite:///{deployment.path / 'connectsafely_ledger.sqlite'}"


@pytest.fixture(scope="module")
def capped_run(local: Deployment) -> dict[str, Any]:
    """One run of ``deploy_capped``, watched while it runs: the triggers that held it."""
    # Start right after a cap window opens (the windows are aligned to the Unix epoch).
    time.sleep(CAP_WINDOW - time.time() % CAP_WINDOW)
    run_id = local.trigger("deploy_capped")
    triggers: dict[int, dict[str, Any]] = {}
    states: list[str] = []

    def finished() -> bool:
        ti = next(t for t in local.task_instances("deploy_capped", run_id) if t["task_id"] == "capped_batch")
        if not states or states[-1] != ti["state"]:
            states.append(ti["state"])
        if ti["state"] == "deferred" and ti["trigger"] and ti["trigger"]["triggerer_id"]:
            triggers[ti["trigger"]["id"]] = ti["trigger"]
        return local.run_state("deploy_capped", run_id) in TERMINAL

    local.wait(finished, "deploy_capped to finish", timeout=240, every=0.5)
    return {"run_id": run_id, "triggers": triggers, "states": states}


def test_capped_send_defers_to_the_running_triggerer_and_resumes(local, capped_run, deploy_emulator):
    run_id = capped_run["run_id"]
    assert local.run_state("deploy_capped", run_id) == "success"
    # Cap 1 per window: the batch deferred before its second send, and the trigger was picked
    # up by the one triggerer running (its job in the metadata DB).
    assert "deferred" in capped_run["states"], capped_run["states"]
    triggers = capped_run["triggers"]
    assert triggers, f"no trigger seen with a triggerer id; states {capped_run['states']}"
    assert {t["classpath"] for t in triggers.values()} == {
        "airflow.providers.standard.triggers.temporal.DateTimeTrigger"
    }
    jobs = local.rest("GET", "/jobs", params={"job_type": "TriggererJob"})["jobs"]
    running = {job["id"] for job in jobs if job["state"] == "running"}
    assert len(running) == 1, jobs
    assert {t["triggerer_id"] for t in triggers.values()} == running
    # The triggerer wrote the trigger's log beside the task's, named by its job id.
    logs = local.task_logs("deploy_capped", run_id)
    for trigger in triggers.values():
        name = f"attempt=1.log.trigger.{trigger['triggerer_id']}.log"
        trigger_log = next(text for path, text in logs.items() if path.name == name)
        assert f"(ID {trigger['id']}) starting" in trigger_log and "Trigger fired event" in trigger_log

    assert deploy_emulator.per_recipient("capped-") == {
        "capped-ada": 1,
        "capped-grace": 1,
        "capped-welcome": 1,
    }
    summary = local.xcom("deploy_capped", run_id, "capped_batch")["summary"]
    assert (summary["total"], summary["sent"]) == (2, 2), summary
    batch_log = next(text for path, text in logs.items() if str(path).endswith("capped_batch/attempt=1.log"))
    assert f"{TESTING_CAP_WINDOW_ENV}={CAP_WINDOW} is set" in batch_log
    assert "Daily limit of 1 messages reached" in batch_log and "Deferring until" in batch_log


def test_clearing_a_finished_run_resends_nothing(local, capped_run, deploy_emulator):
    run_id = capped_run["run_id"]
    before = local.task_instances("deploy_capped", run_id)
    sent_before = deploy_emulator.per_recipient("capped-")
    rows_before = ledger_rows(default_ledger(local))

    cleared = local.clear("deploy_capped", run_id)
    assert {ti["task_id"] for ti in cleared} == {"capped_batch", "welcome"}

    def rerun_done() -> bool:
        tis = local.task_instances("deploy_capped", run_id)
        rerun = all(
            after["try_number"] > old["try_number"]
            for after, old in zip(sorted_tis(tis), sorted_tis(before), strict=True)
        )
        return rerun and local.run_state("deploy_capped", run_id) in TERMINAL

    local.wait(rerun_done, "the cleared run to run again", timeout=180, every=1)
    assert local.run_state("deploy_capped", run_id) == "success"
    assert {ti["state"] for ti in local.task_instances("deploy_capped", run_id)} == {"success"}
    assert deploy_emulator.per_recipient("capped-") == sent_before
    assert ledger_rows(default_ledger(local)) == rows_before
    summary = local.xcom("deploy_capped", run_id, "capped_batch")["summary"]
    assert (summary["total"], summary["sent"]) == (2, 2), summary  # sent by the first try
    welcome_logs = [t for p, t in local.task_logs("deploy_capped", run_id).items() if "welcome" in str(p)]
    assert any("already sent at" in text for text in welcome_logs)


def sorted_tis(tis: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(tis, key=lambda ti: (ti["task_id"], ti["map_index"]))


def most_at_once(tis: list[dict[str, Any]]) -> int:
    """The most task instances that were running at the same moment."""
    edges = []
    for ti in tis:
        edges.append((datetime.fromisoformat(ti["start_date"]), 1))
        edges.append((datetime.fromisoformat(ti["end_date"]), -1))
    running = peak = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        running += step
        peak = max(peak, running)
    return peak


def test_fifty_mapped_sends_on_the_default_sqlite_ledger(local, deploy_emulator):
    recipients = {f"local-{number:03d}" for number in range(50)}
    run_id = local.trigger("deploy_mapped", {"prefix": "local", "count": 50})
    assert local.wait_for_run("deploy_mapped", run_id, timeout=420) == "success"

    sends = [ti for ti in local.task_instances("deploy_mapped", run_id) if ti["task_id"] == "send"]
    assert len(sends) == 50
    assert {(ti["state"], ti["try_number"]) for ti in sends} == {("success", 1)}
    peak = most_at_once(sends)
    print(f"50 mapped sends: at most {peak} running at once (parallelism {PARALLELISM})")
    assert 2 <= peak <= PARALLELISM

    assert deploy_emulator.per_recipient("local-") == dict.fromkeys(recipients, 1)
    rows = {r: row for r, row in ledger_rows(default_ledger(local)).items() if r in recipients}
    assert {(row["state"], row["run_id"]) for row in rows.values()} == {("sent", run_id)}
    assert len(rows) == 50

    logs = local.task_logs("deploy_mapped", run_id)
    assert len([p for p in logs if "task_id=send" in str(p)]) == 50
    locked = [str(p) for p, text in logs.items() if "database is locked" in text]
    locked += [s.name for s in local.services if "database is locked" in s.log()]
    assert not locked


def failure(logs: dict[Path, str]) -> list[dict[str, Any]]:
    """The exceptions (the raised one and its causes) of the "Task failed with exception" line
    of a task's JSON log."""
    for text in logs.values():
        for line in text.splitlines():
            if '"Task failed with exception"' in line:
                return list(json.loads(line)["error_detail"])
    raise AssertionError("no failure in the task logs")


@pytest.fixture
def restart_pg() -> Iterator[PgCluster]:
    """A PostgreSQL server of this test's own for the ledger, so restarting it disturbs
    nothing else (the deployment's metadata database lives elsewhere)."""
    cluster = PgCluster("restart")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


def test_postgres_restarted_in_the_middle_of_a_batch(local, restart_pg, deploy_emulator):
    local.add_connection("deploy_restart_ledger", restart_pg.connection("postgres"))
    recipients = {f"pgr-{number:02d}" for number in range(20)}
    run_id = local.trigger("deploy_pg_batch")

    # Stop the server just after the 6th send was recorded, in the pause before the 7th (the
    # batch sends one a second), as a restart between two sends would.
    local.wait(lambda: sum(deploy_emulator.per_recipient("pgr-").values()) >= 6, "6 sends", 180, every=0.05)
    time.sleep(0.2)
    restart_pg.stop()
    # Down until the batch has noticed (the task ends), at most 20 s; then up again.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and local.run_state("deploy_pg_batch", run_id) not in TERMINAL:
        time.sleep(0.5)
    restart_pg.start()
    assert local.wait_for_run("deploy_pg_batch", run_id, timeout=120) == "failed"

    delivered = deploy_emulator.per_recipient("pgr-")
    assert 6 <= len(delivered) < 20 and set(delivered.values()) == {1}
    # Nothing was sent without a claim, and each send that went out was recorded: the ledger
    # holds exactly the delivered recipients, all sent.
    rows = ledger_rows(restart_pg.url())
    assert {r: row["state"] for r, row in rows.items()} == dict.fromkeys(delivered, "sent")
    # The task failed on the ledger with a clear error (the database error is its cause).
    errors = {error["exc_type"]: error for error in failure(local.task_logs("deploy_pg_batch", run_id))}
    print(f"The batch's error: {errors.get('AirflowException', {}).get('exc_value')}")
    said = errors["AirflowException"]["exc_value"]
    assert said.startswith("The send ledger (postgresql+psycopg://") and "carries on" in said
    cause = errors["OperationalError"]
    assert "Connection refused" in cause["exc_value"]

    local.clear("deploy_pg_batch", run_id, only_failed=True)
    local.wait(
        lambda: (
            local.task_instances("deploy_pg_batch", run_id)[0]["try_number"] == 2
            and local.run_state("deploy_pg_batch", run_id) in TERMINAL
        ),
        "the rerun",
        timeout=180,
        every=1,
    )
    assert local.run_state("deploy_pg_batch", run_id) == "success"
    assert deploy_emulator.per_recipient("pgr-") == dict.fromkeys(recipients, 1)
    assert {row["state"] for row in ledger_rows(restart_pg.url()).values()} == {"sent"}
    summary = local.xcom("deploy_pg_batch", run_id, "paced_batch")["summary"]
    assert (summary["total"], summary["sent"]) == (20, 20), summary


#: The contacts of example_dags/data/crm_contacts.csv who gave consent.
APPROVAL_RECIPIENTS = {
    "ada-lovelace-1815",
    "grace-hopper-1906",
    "alan-turing-1912",
    "katherine-johnson-1918",
    "barbara-liskov-1939",
}


def answer_approval(deployment: Deployment, run_id: str, choice: str) -> dict[str, Any]:
    """Wait until the run's ``approve`` task asks (its details exist and it waits: deferred on
    Airflow 3.1, awaiting_input from 3.3), answer ``choice`` through the REST API, and return
    what it asked."""
    assert deployment.api is not None
    api = deployment.api
    path = f"/dags/{APPROVAL}/dagRuns/{run_id}/taskInstances/approve/-1/hitlDetails"

    def asking() -> dict[str, Any] | None:
        answer = api.api("GET", path)
        waiting = answer.ok and answer.json()["task_instance"]["state"] in ("deferred", "awaiting_input")
        return answer.json() if waiting else None

    asked = deployment.wait(asking, f"{APPROVAL}/{run_id} to ask for approval", timeout=120, every=0.5)
    # Answer only once the scheduler has taken in the pause, as a person would: Airflow fails a
    # task answered before the executor's report of its paused process is handled ("state
    # changed externally": the report finds the task queued again), seen on 3.3.2.
    paused = re.compile(
        rf"TaskInstance Finished: dag_id={APPROVAL}, task_id=approve, run_id={re.escape(run_id)}, "
        r"[^\n]*state=(awaiting_input|deferred),"
    )
    scheduler = deployment.service("scheduler")
    deployment.wait(lambda: paused.search(scheduler.log()), "the scheduler to take in the pause", timeout=60)
    deployment.rest("PATCH", path, json={"chosen_options": [choice], "params_input": {}})
    return asked


def test_approval_through_the_rest_api_reject_sends_nothing_approve_sends(local, deploy_emulator):
    def delivered() -> list[str]:
        return [
            m["recipientProfileId"]
            for m in deploy_emulator.messages()
            if m.get("recipientProfileId") in APPROVAL_RECIPIENTS
        ]

    assert delivered() == []
    rejected = local.trigger(APPROVAL)
    asked = answer_approval(local, rejected, "Reject")
    assert asked["subject"] == "Send 5 LinkedIn message(s)?"
    assert asked["options"] == ["Approve", "Reject"]
    body = asked["body"]
    print(f"The approval's body:\n{body}")
    assert body.startswith("## approved-launch-2026\n")
    assert "**5 message(s) would go out** to 5 recipient(s) offered; 0 would get nothing." in body
    assert "| default | 5 |" in body
    assert "```text\nHi Ada, our 2026 release is out: want a short tour?\n```" in body
    assert local.wait_for_run(APPROVAL, rejected, timeout=120) == "success"
    states = {ti["task_id"]: ti["state"] for ti in local.task_instances(APPROVAL, rejected)}
    assert states == {"contacts": "success", "dry_run": "success", "approve": "success", "send": "skipped"}
    assert delivered() == []

    approved = local.trigger(APPROVAL)
    assert "**5 message(s) would go out**" in answer_approval(local, approved, "Approve")["body"]
    assert local.wait_for_run(APPROVAL, approved, timeout=120) == "success"
    assert sorted(delivered()) == sorted(APPROVAL_RECIPIENTS)
    summary = local.xcom(APPROVAL, approved, "send")["summary"]
    assert (summary["total"], summary["sent"]) == (5, 5), summary
