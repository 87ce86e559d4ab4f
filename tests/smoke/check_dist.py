"""Check the release files in DIST_DIR (``make dist-check``): one wheel and one sdist of this
version, each holding every file of the package, data included (``py.typed``, the migrations'
``script.py.mako``, ``plugins/static/*``), and the wheel its entry points.

``python -m build`` makes the wheel from the sdist, so a file the sdist lacks (``package_data``
in setup.cfg, or MANIFEST.in) would be missing from the wheel too; both are checked so the
message says which. Usage: ``python tests/smoke/check_dist.py DIST_DIR``.
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_connectsafely"
# Data the package reads at run time; listed so that a rename shows here, not in production.
DATA = ["py.typed", "ledger/migrations/script.py.mako", "plugins/static/ledger.html"]
ENTRY_POINTS = ["[apache_airflow_provider]", "[airflow.plugins]", "[console_scripts]"]


def package_files() -> set[str]:
    root = REPO / PACKAGE
    return {
        path.relative_to(REPO).as_posix()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo")
    }


def main(dist: Path) -> int:
    version = re.search(r'__version__ = "([^"]+)"', (REPO / PACKAGE / "__init__.py").read_text())
    assert version, "no __version__ in the package"
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    errors: list[str] = []
    if [w.name for w in wheels] != [f"{PACKAGE}-{version[1]}-py3-none-any.whl"]:
        errors.append(f"expected one wheel of version {version[1]}, found {[w.name for w in wheels]}")
    if [s.name for s in sdists] != [f"{PACKAGE}-{version[1]}.tar.gz"]:
        errors.append(f"expected one sdist of version {version[1]}, found {[s.name for s in sdists]}")
    if errors:
        print("\n".join(errors))
        return 1
    expected = package_files()
    errors += [f"the package has no {name}" for name in DATA if f"{PACKAGE}/{name}" not in expected]

    with zipfile.ZipFile(wheels[0]) as wheel:
        in_wheel = set(wheel.namelist())
        [entry_points] = [n for n in in_wheel if n.endswith(".dist-info/entry_points.txt")]
        declared = wheel.read(entry_points).decode()
    errors += [f"{wheels[0].name} lacks {name}" for name in sorted(expected - in_wheel)]
    errors += [
        f"{wheels[0].name} declares no {group} entry point" for group in ENTRY_POINTS if group not in declared
    ]

    prefix = f"{PACKAGE}-{version[1]}/"
    with tarfile.open(sdists[0]) as sdist:
        in_sdist = {n.removeprefix(prefix) for n in sdist.getnames()}
    errors += [f"{sdists[0].name} lacks {name}" for name in sorted(expected - in_sdist)]
    errors += [
        f"{sdists[0].name} lacks {name}"
        for name in ("pyproject.toml", "setup.cfg", "README.md", "LICENSE")
        if name not in in_sdist
    ]

    if errors:
        print("\n".join(errors))
        return 1
    data = ", ".join(sorted(n.removeprefix(PACKAGE + "/") for n in expected if not n.endswith(".py")))
    print(f"dist-check: {wheels[0].name} and {sdists[0].name} hold all {len(expected)} package files")
    print(f"dist-check: package data: {data}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
