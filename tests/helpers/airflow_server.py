"""A real Airflow for tests: a throwaway AIRFLOW_HOME, ``airflow`` commands in it, and
``airflow api-server`` as a subprocess on a free loopback port; Chromium's location and flags."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from helpers.paths import REPO

CHROMIUM = os.environ.get("CONNECTSAFELY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts" / "ui"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
WRONG_KEY = "wrong-key-0b7e41c9"
SERVER_START_TIMEOUT = 90


def missing(what: str) -> None:
    """Skip on a developer machine; fail loudly in CI, where the UI test must run."""
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} (CI=true: `make test` installs it; the UI test may not skip)", pytrace=False)
    pytest.skip(f"{what}; `make test` installs it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AirflowHome:
    """A throwaway AIRFLOW_HOME and the environment for ``airflow`` commands using it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "dags").mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__"))}
        env.update(
            AIRFLOW_HOME=str(path),
            AIRFLOW__CORE__DAGS_FOLDER=str(path / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        )
        self.env = env

    def airflow(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        if check and result.returncode != 0:
            pytest.fail(f"airflow {args[:2]} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result


class ApiServer:
    """``airflow api-server`` as a subprocess in its own process group.

    :param home: the Airflow home and environment it runs with.
    :param port: the port to listen on; a free one when None (a deployment that must name the
        port in other processes' configuration first picks it with :func:`free_port`).
    """

    def __init__(self, home: AirflowHome, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = home.path / "api-server.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            env=home.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._ready = False
        self.session = requests.Session()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> ApiServer:
        """Healthy, and the session holds a token (all-admins mode: no password needed)."""
        self.wait_healthy()
        # Airflow 3.1 wants a token on the REST API even when everybody is admin; 3.3 does not.
        token = requests.get(f"{self.base}/auth/token", timeout=10).json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"
        return self

    def wait_healthy(self) -> ApiServer:
        """Wait until the server answers its health check (fails the test if it died)."""
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not self._ready:
            if self.proc.poll() is not None:
                pytest.fail(f"airflow api-server exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"airflow api-server not ready in {SERVER_START_TIMEOUT}s:\n{self.log()[-3000:]}")
            with contextlib.suppress(requests.ConnectionError):
                self._ready = requests.get(f"{self.base}/api/v2/monitor/health", timeout=2).ok
            if not self._ready:
                time.sleep(0.3)
        return self

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, f"{self.base}/api/v2{path}", timeout=30, **kwargs)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
