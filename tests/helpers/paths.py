"""Where things are in the checkout."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
TEST_DAGS = REPO / "tests" / "integration" / "dags"
FIXTURES = REPO / "tests" / "fixtures"
