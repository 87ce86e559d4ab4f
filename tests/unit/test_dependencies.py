"""pyproject's dependencies say what the code imports: every third-party module the
package imports is declared (or is one of the few optional ones, imported behind a guard)."""

from __future__ import annotations

import ast
import re
import sys

import pytest
from helpers.paths import REPO

PACKAGE = REPO / "airflow_provider_connectsafely"
# Import name -> distribution name, where they differ.
DISTRIBUTIONS = {"airflow": "apache-airflow", "yaml": "pyyaml", "typing_extensions": "typing-extensions"}
# Imported only where they are available (a guarded import, or a module users opt into).
OPTIONAL = {"psycopg", "wtforms", "pytest"}


def _third_party_imports() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name != PACKAGE.name}


def test_every_imported_distribution_is_declared():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    declared = {
        re.split(r"[<>=\[; ]", spec, maxsplit=1)[0].lower()
        for spec in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    needed = {DISTRIBUTIONS.get(name, name).lower() for name in _third_party_imports() - OPTIONAL}
    assert needed <= declared, f"imported but not declared: {sorted(needed - declared)}"
    assert "apache-airflow-providers-standard" in declared  # DateTimeTrigger, imported as airflow.*


def _pins(path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pins[re.sub(r"[-_.]+", "-", name.strip()).lower()] = version.strip()
    return pins


def test_a_pinned_airflow_is_installed_exactly_as_its_constraints_file_says():
    """An Airflow version with a file in constraints/ (the CI floor) is tested with exactly those
    packages: a newer release of a dependency must not change what the floor proves unseen."""
    from importlib.metadata import distributions, version

    pinned = REPO / "constraints" / f"airflow-{version('apache-airflow')}.txt"
    if not pinned.is_file():
        pytest.skip(f"no {pinned.name}: this Airflow is installed as pip resolves it")
    installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in distributions()}
    pins = _pins(pinned)
    assert {"apache-airflow", "cryptography"} <= pins.keys()
    drifted = {name: (pin, installed[name]) for name, pin in pins.items() if installed.get(name, pin) != pin}
    assert drifted == {}, f"installed versions differ from {pinned.name}: {drifted} (rerun `make test-floor`)"
