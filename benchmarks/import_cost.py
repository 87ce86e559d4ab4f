"""Benchmark 1: what importing the operator module adds to every DAG parse.

Each sample is a fresh interpreter that imports ``airflow.sdk`` (which every Airflow 3 DAG
file pays anyway), then times one ``import`` of the operator module. Our module and the
alternatives a user would otherwise pick (``airflow.providers.http.operators.http``,
``airflow.providers.slack.operators.slack``) are sampled in interleaved rounds, after one
excluded warm-up interpreter each (it may write ``.pyc`` files). A ``-X importtime`` run of
each lists the modules the import pulls in beyond ``airflow.sdk``, so a regression shows up
by name.

Run alone: ``python -m benchmarks.import_cost [--quick]``.
"""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks.harness import REPO, Result, Row, Spread, airflow_home, child_env, fmt_ratio, run_child_json

NAME = "import_cost"
TITLE = "Import cost on DAG parsing"
TARGET_MS = 10.0

OURS = "airflow_provider_connectsafely.operators.messaging"
ALTERNATIVES = {
    "HTTP operator": "airflow.providers.http.operators.http",
    "Slack operator": "airflow.providers.slack.operators.slack",
}

# Runs in the fresh interpreter: nothing but what the timing needs is imported before the mark.
_TIMED = """
import sys, time, json
import airflow.sdk
before = set(sys.modules)
start = time.perf_counter()
__import__(sys.argv[1])  # an import statement's path (importlib.import_module's differs)
elapsed = time.perf_counter() - start
new = sorted(set(sys.modules) - before)
print(json.dumps({"ms": elapsed * 1000, "modules": len(new), "names": new}))
"""

_MARK = "---- after airflow.sdk ----"
_IMPORTTIME = f"""
import sys
import airflow.sdk
sys.stderr.write({_MARK!r} + "\\n"); sys.stderr.flush()
__import__(sys.argv[1])  # -X importtime does not report importlib.import_module's own module
"""


def sample(module: str, env: dict[str, str]) -> dict:
    return run_child_json(["-c", _TIMED, module], env, timeout=120)


def importtime(module: str, env: dict[str, str]) -> list[tuple[int, int, int, str]]:
    """``(depth, self_us, cumulative_us, name)`` for each module imported after airflow.sdk."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _IMPORTTIME, module],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    _, _, after = done.stderr.partition(_MARK)
    rows: list[tuple[int, int, int, str]] = []
    for line in after.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|")
        rows.append((len(name) - len(name.lstrip()), int(self_us), int(cumulative_us), name.strip()))
    # Stop at the module's own line (printed last, when its import completes): anything
    # after it (e.g. an atexit hook's import) is not part of this import.
    names = [row[3] for row in rows]
    if module in names:
        rows = rows[: names.index(module) + 1]
    top = min((row[0] for row in rows), default=0)
    return [
        ((indent - top) // 2, self_us, cumulative_us, name) for indent, self_us, cumulative_us, name in rows
    ]


def by_package(trace: list[tuple[int, int, int, str]]) -> list[tuple[str, int]]:
    """Self time summed per package (``aiohttp``, ``airflow.providers.http``), largest first."""
    totals: dict[str, int] = {}
    for _, self_us, _, name in trace:
        parts = name.split(".")
        package = ".".join(parts[:3]) if parts[0] == "airflow" else parts[0]
        totals[package] = totals.get(package, 0) + self_us
    return sorted(totals.items(), key=lambda item: -item[1])


def run(quick: bool = False) -> Result:
    rounds = 5 if quick else 15
    deadline = time.monotonic() + (240 if quick else 900)
    modules = {"ours": OURS, **ALTERNATIVES}
    samples: dict[str, list[float]] = {label: [] for label in modules}
    new_modules: dict[str, list[str]] = {}
    with airflow_home() as home:
        env = child_env(home)
        for label, module in modules.items():  # warm-up, excluded: may write .pyc files
            new_modules[label] = sample(module, env)["names"]
        for index in range(rounds):
            if time.monotonic() > deadline and index >= 3:
                break
            labels = list(modules)
            labels = labels[index % len(labels) :] + labels[: index % len(labels)]
            for label in labels:
                samples[label].append(sample(modules[label], env)["ms"])
        traces = {label: importtime(module, env) for label, module in modules.items()}

    stats = {label: Spread.of(values) for label, values in samples.items()}
    ours = stats["ours"]
    ratios = {label: ours.median / stats[label].median for label in ALTERNATIVES}
    row = Row(
        benchmark="operator module, fresh interpreter, after `import airflow.sdk`",
        ours=ours.fmt(2, " ms"),
        alternatives="; ".join(f"{label} {stats[label].fmt(0, ' ms')}" for label in ALTERNATIVES),
        ratio="; ".join(f"{fmt_ratio(ratios[label])}x {label}" for label in ALTERNATIVES),
        target=f"< {TARGET_MS:g} ms",
        met=ours.median < TARGET_MS,
    )
    return Result(NAME, TITLE, [row], details=_details(stats, new_modules, traces))


def _details(
    stats: dict[str, Spread],
    new_modules: dict[str, list[str]],
    traces: dict[str, list[tuple[int, int, int, str]]],
) -> str:
    labels = {"ours": f"`{OURS}`", **{k: f"`{v}`" for k, v in ALTERNATIVES.items()}}
    lines = [
        "| Module | median | IQR | min-max | modules added beyond `airflow.sdk` |",
        "|---|---|---|---|---|",
    ]
    for label, spread in stats.items():
        lines.append(
            f"| {labels[label]} | {spread.median:.2f} ms | {spread.q1:.2f}-{spread.q3:.2f} ms | "
            f"{spread.low:.2f}-{spread.high:.2f} ms | {len(new_modules[label])} |"
        )
    lines += ["", "Modules our import pulls in beyond `airflow.sdk` (`python -X importtime`, one run):", ""]
    lines += ["| module | self µs | cumulative µs |", "|---|---|---|"]
    for depth, self_us, cumulative_us, name in traces["ours"]:
        lines.append(f"| {'&nbsp;&nbsp;' * depth}`{name}` | {self_us} | {cumulative_us} |")
    for label in ALTERNATIVES:
        heaviest = ", ".join(f"`{name}` {us / 1000:.0f} ms" for name, us in by_package(traces[label])[:6])
        lines += ["", f"{label}: import time by package (self time summed, one run): {heaviest}."]
    return "\n".join(lines)


if __name__ == "__main__":
    from benchmarks.run import main

    sys.exit(main(["--only", NAME, *sys.argv[1:]]))
