"""The opt-in pytest plugin, used as a user would: pytest run in a copy of the sample project.

``tests/fixtures/sample_project`` is a user's project (``dags/outreach.py``, ``tests/``) whose
tests use only the documented ``connectsafely_emulator`` fixture. Each run is a fresh pytest
process in a temporary copy, so the provider's own ``tests/conftest.py`` is out of reach.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from importlib.metadata import distribution
from pathlib import Path

from helpers.dag_runs import load_dag, task_results
from helpers.paths import FIXTURES

from airflow_provider_connectsafely.ledger import locate
from airflow_provider_connectsafely.outreach import caps
from airflow_provider_connectsafely.testing import isolated_default_ledger

SAMPLE = FIXTURES / "sample_project"
PLUGIN = "airflow_provider_connectsafely.testing.pytest_plugin"


def run_sample(tmp_path: Path, edit=None) -> subprocess.CompletedProcess[str]:
    project = tmp_path / "project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    if edit is not None:
        edit(project)
    # A clean environment: nothing of this session's Airflow, connections or pytest options.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "CONNECTSAFELY", "PYTEST")) and k != "PYTHONPATH"
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|error)", last)}


def test_the_plugin_is_opt_in():
    eps = distribution("airflow-provider-connectsafely").entry_points
    assert not [ep for ep in eps if ep.group == "pytest11"]
    conftest = (SAMPLE / "tests" / "conftest.py").read_text()
    assert f'pytest_plugins = ["{PLUGIN}"]' in conftest


def test_isolated_default_ledger_points_then_closes_and_restores(tmp_path):
    before = locate.default_ledger_path
    path = tmp_path / "mine.sqlite"
    with isolated_default_ledger(path):
        assert locate.default_ledger_path() == path
        where = locate.locate(extra_ledger_conn_id=None)
        ledger = locate.open_ledger(where, logging.getLogger(__name__))
        assert locate.open_ledger(where, logging.getLogger(__name__)) is ledger
    assert locate.default_ledger_path is before
    assert f"sqlite:///{path}" not in locate._OPEN


def test_short_cap_window_variable_defers_to_the_next_window(connection, airflow_db, monkeypatch):
    """The documented testing variable, in a real run: a capped batch (daily_limit=2, three
    recipients) defers and sends the third message in the next 3-second window."""
    monkeypatch.setenv(caps.TESTING_CAP_WINDOW_ENV, "3")
    run = load_dag("connectsafely_test_defer").test()
    results = task_results(run)
    assert results[("capped_batch", -1)][0] == "success"
    assert Counter(o["status"] for o in results[("capped_batch", -1)][1]["outcomes"]) == {"sent": 3}
    sends = [m for m in connection.messages() if m["recipientProfileId"].startswith("cap-")]
    assert len(sends) == 3
    # At most two sends in any 3-second window aligned to the epoch: the third waited.
    per_window = Counter(caps.window(datetime.fromisoformat(m["at"]))[0] for m in sends)
    assert max(per_window.values()) == 2 and len(per_window) >= 2
    assert all(end - start == timedelta(seconds=3) for start, end in map(caps.window, per_window))


def test_sample_project_passes(tmp_path):
    result = run_sample(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary(result) == {"passed": 2}, result.stdout


def test_sample_assertions_see_what_the_dag_really_sent(tmp_path):
    """Rename a recipient in the copied DAG: the sample's test must see it and fail."""

    def rename(project: Path) -> None:
        dag = project / "dags" / "outreach.py"
        text = dag.read_text()
        assert '"alan-turing"' in text
        dag.write_text(text.replace('"alan-turing"', '"alan-turing-2"'))

    result = run_sample(tmp_path, rename)
    assert result.returncode == 1, result.stdout + result.stderr
    assert summary(result) == {"failed": 2}, result.stdout
    assert "alan-turing-2" in result.stdout
