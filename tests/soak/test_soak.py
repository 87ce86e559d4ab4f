"""The CI variant of the soak run (issue 18): three simulated days with a fixed seed, every
fault on, every invariant checked. ``make soak-ci`` runs it; ``make test`` does not collect
tests/soak (pyproject's ``norecursedirs``). A failure prints the seed and the replay command.

The run is a process of its own (tests/soak/harness.py): it sets up Airflow's home and
configuration before importing Airflow, which this pytest process has done already.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parent / "harness.py"
CI_SEED = 18
CI_DAYS = 3

pytestmark = [pytest.mark.soak, pytest.mark.timeout(900)]


def test_three_simulated_days_under_faults_hold_every_invariant(tmp_path):
    command = [sys.executable, str(HARNESS), "--days", str(CI_DAYS), "--seed", str(CI_SEED)]
    result = subprocess.run(
        [*command, "--out", str(tmp_path / "run"), "--report", str(tmp_path / "report.md")],
        capture_output=True,
        text=True,
        check=False,
    )
    print(result.stdout[-20000:], result.stderr[-5000:])
    assert result.returncode == 0, f"the soak run failed (seed {CI_SEED}); output above"
