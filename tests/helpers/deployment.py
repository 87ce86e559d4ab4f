"""A real Airflow deployment for tests: separate ``api-server``, ``scheduler``,
``dag-processor``, ``triggerer`` and Celery worker processes sharing a throwaway AIRFLOW_HOME
and a PostgreSQL metadata database, driven through the REST API (``/api/v2``); and the
emulator as its own process (``connectsafely-emulator``)."""

from __future__ import annotations

import collections
import json
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers.airflow_server import AIRFLOW, AirflowHome, ApiServer, free_port
from helpers.connections import API_KEY, connection_json
from helpers.deploy_host import ENV as HOSTNAME_ENV
from helpers.paths import REPO
from helpers.services import Service, wait_until

DEPLOY_DAGS = REPO / "tests" / "deploy" / "dags"
ARTIFACTS = REPO / "test-artifacts" / "deploy"
TERMINAL = ("success", "failed")
EMULATOR = str(Path(sys.executable).with_name("connectsafely-emulator"))


class Emulator:
    """``connectsafely-emulator`` on a free loopback port, with no daily quota to speak of
    (the deployment tests send hundreds of messages in a day)."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [EMULATOR, "--port", str(self.port), "--api-key", API_KEY, "--daily-limit", "1000000"]
        self.service = Service("emulator", argv, env={"PATH": "/usr/bin:/bin"}, log_dir=log_dir)
        self.service.wait_until(lambda: "listening" in self.service.log(), "listening", timeout=30)

    def messages(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.url}/_emulator/messages", timeout=30)
        answer.raise_for_status()
        return answer.json()["messages"]

    def per_recipient(self, prefix: str) -> collections.Counter[str]:
        """Messages delivered to each recipient whose profile id starts with ``prefix``."""
        return collections.Counter(
            m["recipientProfileId"]
            for m in self.messages()
            if str(m.get("recipientProfileId")).startswith(prefix)
        )

    def inject(self, fault: str, *, count: int = 1, **params: Any) -> None:
        """Queue a fault for the next ``count`` requests (``POST /_emulator/faults``)."""
        answer = requests.post(
            f"{self.url}/_emulator/faults", json={"fault": fault, "count": count, **params}, timeout=30
        )
        answer.raise_for_status()

    def faults_left(self) -> int:
        """Requests the queued faults will still apply to."""
        answer = requests.get(f"{self.url}/_emulator/faults", timeout=30)
        answer.raise_for_status()
        return sum(fault["count"] for fault in answer.json()["faults"])

    def stop(self) -> None:
        self.service.stop()


class Deployment:
    """Airflow as separate processes in ``path`` (a fresh folder), configured by environment.

    :param path: the AIRFLOW_HOME; the DAGs of ``tests/deploy/dags`` are copied into its ``dags``.
    :param executor: ``LocalExecutor`` or ``CeleryExecutor``.
    :param metadata_url: the metadata database (PostgreSQL, SQLAlchemy URL).
    :param emulator: the emulator ``connectsafely_default`` points at.
    :param env: more settings for every process (``AIRFLOW__...``, connections).
    :param dags: the folder of DAG files to deploy.
    """

    def __init__(
        self,
        path: Path,
        *,
        executor: str,
        metadata_url: str,
        emulator: Emulator,
        env: dict[str, str],
        dags: Path = DEPLOY_DAGS,
    ) -> None:
        self.home = AirflowHome(path)
        shutil.copytree(dags, self.home.path / "dags", dirs_exist_ok=True)
        self.api_port = free_port()
        base = f"http://127.0.0.1:{self.api_port}"
        self.home.env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": executor,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
                # psycopg 3 for the async engine too (Airflow would pick asyncpg by default).
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url.replace(
                    "postgresql+psycopg://", "postgresql+psycopg_async://"
                ),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
                "AIRFLOW__API__BASE_URL": base,
                # Every process must sign and check the same tokens.
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                # Free ports for the log servers too (the scheduler's under LocalExecutor, the
                # triggerer's, each Celery worker's).
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                # A short test: parse once, look for new files often, one parser process.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT": connection_json(emulator.url),
                **env,
            }
        )
        self.services: list[Service] = []
        self.api: ApiServer | None = None
        self._killed: set[str] = set()

    @property
    def path(self) -> Path:
        return self.home.path

    # -- processes ---------------------------------------------------------------------------

    def migrate(self) -> None:
        self.home.airflow("db", "migrate")

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Service:
        """Start ``airflow ARGS`` as a service named ``name`` (its log: ``<home>/<name>.log``)."""
        service = Service(name, [AIRFLOW, *args], env={**self.home.env, **(env or {})}, log_dir=self.path)
        self.services.append(service)
        return service

    def start_as_host(self, name: str, *args: str, log_port_setting: str) -> Service:
        """Start ``airflow ARGS`` as if on a machine of its own named ``name``: Airflow records
        ``name`` as its host name (``[core] hostname_callable``), and its log server listens on
        a port of its own (``log_port_setting``, e.g. ``AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT``)."""
        return self.start(
            name,
            *args,
            env={
                log_port_setting: str(free_port()),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "helpers.deploy_host.hostname",
                HOSTNAME_ENV: name,
                "PYTHONPATH": str(REPO / "tests"),
            },
        )

    def service(self, name: str) -> Service:
        return next(service for service in self.services if service.name == name)

    def start_api_server(self) -> ApiServer:
        self.api = ApiServer(self.home, port=self.api_port)
        return self.api

    def check_alive(self) -> None:
        """Fail at once, with its log, when a process of the deployment has died."""
        if self.api is not None and self.api.proc.poll() is not None:
            pytest.fail(f"airflow api-server exited:\n{self.api.log()[-4000:]}", pytrace=False)
        for service in self.services:
            if service.name not in self._killed:
                service.check_alive()

    def kill(self, service: Service) -> None:
        """SIGKILL a process group on purpose (a machine lost): no longer a reason to fail."""
        self._killed.add(service.name)
        service.kill()

    def stop(self) -> None:
        """Stop every process by its own process group, newest first, then the API server."""
        for service in reversed(self.services):
            service.stop()
        if self.api is not None:
            self.api.stop()

    def archive_and_remove(self, name: str) -> None:
        """Copy the processes' and the tasks' logs (and a SQLite ledger) to
        ``test-artifacts/deploy/<name>/``, then delete the Airflow home."""
        target = ARTIFACTS / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for kept in (*self.path.glob("*.log"), *self.path.glob("*.sqlite")):
            shutil.copy(kept, target / kept.name)
        if (self.path / "logs").is_dir():
            shutil.copytree(self.path / "logs", target / "logs", dirs_exist_ok=True)
        shutil.rmtree(self.path, ignore_errors=True)

    # -- the REST API ------------------------------------------------------------------------

    def rest(self, method: str, path: str, **kwargs: Any) -> Any:
        assert self.api is not None
        answer = self.api.api(method, path, **kwargs)
        assert answer.ok, f"{method} /api/v2{path}: {answer.status_code} {answer.text[:2000]}"
        return answer.json() if answer.content else None

    def wait(self, probe: Any, what: str, timeout: float = 120, every: float = 0.5) -> Any:
        """Poll ``probe`` until true; fail early when a process of the deployment died."""

        def checked() -> Any:
            self.check_alive()
            return probe()

        return wait_until(checked, what, timeout, every)

    def wait_for_dags(self, *dag_ids: str, timeout: float = 180) -> None:
        """Until the dag-processor has parsed and serialized them."""
        assert self.api is not None
        api = self.api

        def parsed() -> bool:
            return all(api.api("GET", f"/dags/{dag_id}/details").ok for dag_id in dag_ids)

        self.wait(parsed, f"DAGs {dag_ids} parsed", timeout, every=1)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        run = self.rest("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.rest("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        """Until the run is success or failed; returns that state."""
        return self.wait(
            lambda: state if (state := self.run_state(dag_id, run_id)) in TERMINAL else None,
            f"run {dag_id}/{run_id} to finish",
            timeout,
            every=1,
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (all map indexes), page by page."""
        found: list[dict[str, Any]] = []
        while True:
            page = self.rest(
                "GET",
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                params={"limit": 100, "offset": len(found), "order_by": "map_index"},
            )
            found += page["task_instances"]
            if not page["task_instances"] or len(found) >= page["total_entries"]:
                return found

    def clear(self, dag_id: str, run_id: str, *, only_failed: bool = False) -> list[dict[str, Any]]:
        """``clearTaskInstances`` for the run (its tasks run again); returns what it cleared."""
        body = {"dag_run_id": run_id, "dry_run": False, "only_failed": only_failed, "reset_dag_runs": True}
        return self.rest("POST", f"/dags/{dag_id}/clearTaskInstances", json=body)["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        entry = self.rest("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}")
        value = entry["value"]
        return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value

    def add_connection(self, conn_id: str, fields: dict[str, Any]) -> None:
        """Store a connection in the metadata database (every worker reads it from there)."""
        self.rest("POST", "/connections", json={"connection_id": conn_id, **fields})

    def task_logs(self, dag_id: str, run_id: str) -> dict[Path, str]:
        """The task log files of a run, by path (``.../task_id=.../attempt=N.log``)."""
        root = self.path / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        return {path: path.read_text(errors="replace") for path in sorted(root.rglob("*.log"))}


def ledger_rows(url: str) -> dict[str, dict[str, Any]]:
    """Every row of the send ledger at ``url``, by recipient (read with its own engine)."""
    from sqlalchemy import create_engine, select

    from airflow_provider_connectsafely.ledger.schema import sends

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(sends)).mappings().all()
    finally:
        engine.dispose()
    return {row["recipient"]: dict(row) for row in rows}
