"""Airflow 3.1 compatibility, checked on any Airflow: the floor's Task SDK lacks most exceptions."""

from __future__ import annotations

import ast

import pytest
from helpers.paths import REPO

from airflow_provider_connectsafely import compat

# What ``airflow.sdk.exceptions`` exports on the lowest supported Airflow (3.1.8, Task SDK 1.1).
FLOOR_SDK_EXCEPTIONS = {"AirflowException", "AirflowDagCycleException", "AirflowRuntimeError", "ErrorType"}
# The code that runs on users' Airflow: the package, the example DAGs and the test DAGs.
# (Test modules are checked by running the suite on 3.1: `make test-floor`.)
SOURCES = sorted(
    path
    for folder in ("airflow_provider_connectsafely", "example_dags", "tests/dags")
    for path in (REPO / folder).rglob("*.py")
    if path.name != "compat.py"
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_import_that_airflow_3_1_lacks(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    missing = [
        f"line {node.lineno}: {alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "airflow.sdk.exceptions"
        for alias in node.names
        if alias.name not in FLOOR_SDK_EXCEPTIONS
    ]
    assert not missing, (
        f"Airflow 3.1 has no {missing} in airflow.sdk.exceptions: "
        "import it from airflow_provider_connectsafely.compat instead"
    )


def test_compat_exports_the_task_sdk_classes():
    import warnings

    import airflow.exceptions

    for name in compat.__all__:
        assert issubclass(getattr(compat, name), BaseException)
        with warnings.catch_warnings():  # the old home warns on newer Airflow: that is the point
            warnings.simplefilter("ignore")
            assert getattr(compat, name) is getattr(airflow.exceptions, name)
    assert issubclass(compat.AirflowFailException, compat.AirflowException)
