"""The import graph: the lower layers import no Airflow, and nothing imports upward.

Layers, lowest first: ``defaults``/``clock`` → ``api`` → ``ledger`` (storage) → ``outreach``
→ the Airflow layer (``settings``/``connection_form``/``assets`` sit with ``api``: plain data; the
public ``windows`` module with ``outreach``, whose class it exports). The emulator stands
apart and imports nothing of the provider outside itself.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.paths import REPO

PACKAGE = REPO / "airflow_provider_connectsafely"
NAME = PACKAGE.name

RANKS = {
    "defaults": 0,
    "errors": 0,
    "clock": 0,
    "api": 1,
    "settings": 1,
    "connection_form": 1,
    "assets": 1,
    "ledger.records": 2,
    "ledger.schema": 2,
    "ledger.store": 2,
    "ledger.migrations": 2,
    "ledger": 2,
    "outreach": 3,
    "windows": 3,
    "compat": 4,
    "ledger.locate": 4,
    "hooks": 4,
    "triggers": 4,
    "operators": 5,
    "sensors": 5,
    "notifications": 5,
    "get_provider_info": 5,
    "cli": 5,
    "testing": 5,
    "plugins": 5,
}
AIRFLOW_FREE = [
    "api",
    "outreach",
    "windows",
    "ledger.records",
    "ledger.schema",
    "ledger.store",
    "clock",
    "defaults",
    "assets",
]


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def _rank(module: str) -> int | None:
    for prefix in sorted(RANKS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return RANKS[prefix]
    return None


def _imports(path: Path) -> list[str]:
    """Every module of ours that ``path`` imports, at module level or inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(NAME):
            base = node.module[len(NAME) + 1 :]
            found.extend(base or a.name for a in node.names)
        elif isinstance(node, ast.Import):
            found.extend(a.name[len(NAME) + 1 :] for a in node.names if a.name.startswith(NAME + "."))
    return found


SOURCES = sorted(
    p
    for p in PACKAGE.rglob("*.py")
    if "emulator" not in p.parts and "versions" not in p.parts and p != PACKAGE / "__init__.py"
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_nothing_imports_upward(path: Path):
    mine = _rank(_module(path))
    assert mine is not None, f"{_module(path)} has no layer: add its package to RANKS"
    upward = [m for m in _imports(path) if (_rank(m) or 0) > mine]
    assert upward == [], f"{_module(path)} (layer {mine}) imports a higher layer: {upward}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "operators").glob("*.py")), ids=lambda p: p.name)
def test_operators_import_neither_the_emulator_nor_each_others_internals(path: Path):
    for module in _imports(path):
        assert not module.startswith("emulator"), module
        if module.startswith("operators.") and module not in (
            "operators.base",
            "operators.inputs",
            "operators.links",
        ):
            # operators.messaging re-exports the batch operator class (a documented path).
            assert (path.name, module) == ("messaging.py", "operators.batch"), module


def test_the_emulator_imports_nothing_of_the_provider():
    for path in (PACKAGE / "emulator").rglob("*.py"):
        assert _imports(path) == [], path


def test_lower_layers_import_with_airflow_blocked():
    modules = [
        _module(p)
        for p in SOURCES
        if any(_module(p) == m or _module(p).startswith(m + ".") for m in AIRFLOW_FREE)
    ]
    code = f"""
import importlib, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "airflow" or name.startswith("airflow."):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
for name in {modules!r}:
    importlib.import_module("{NAME}." + name)
print(len({modules!r}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 10
