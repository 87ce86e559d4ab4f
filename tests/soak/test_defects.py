"""The soak harness catches deliberate defects (issue 18): each run injects one (tests/soak/
defects.py) into every worker, and the invariant it breaks must be reported. ``make
soak-defects`` runs them (a 3-day run each, the CI seed); not part of ``make test`` nor of
``make soak-ci``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from defects import DEFECTS  # noqa: E402
from test_soak import CI_DAYS, CI_SEED  # noqa: E402

pytestmark = [pytest.mark.soak, pytest.mark.timeout(900)]


@pytest.mark.parametrize(("defect", "invariant"), sorted(DEFECTS.items()))
def test_an_injected_defect_is_caught_by_its_invariant(tmp_path, defect, invariant):
    report = tmp_path / "report.md"
    result = subprocess.run(
        [
            sys.executable,
            str(HERE / "harness.py"),
            *("--days", str(CI_DAYS), "--seed", str(CI_SEED), "--inject-defect", defect),
            *("--out", str(tmp_path / "run"), "--report", str(report)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    print(result.stdout[-20000:], result.stderr[-5000:])
    assert result.returncode == 1, "the run did not fail"
    fired = {line.split(": ")[1] for line in report.read_text().splitlines() if line.startswith("- FAILED")}
    assert invariant in fired, f"{invariant} did not fire (fired: {sorted(fired)})"
    assert "SOAK FAILED" in result.stdout and f"--inject-defect {defect}" in result.stdout
