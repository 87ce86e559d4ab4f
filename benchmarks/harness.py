"""What every benchmark shares: results, statistics, the machine, child processes, the server.

A benchmark module exposes ``NAME``, ``TITLE`` and ``run(quick: bool) -> Result``; the runner
(``benchmarks/run.py``) lists the modules, calls ``run`` and renders the table. Benchmarks
import Airflow only in child processes they start, so the runner's own output stays clean and
one benchmark's imports, logging set-up or memory never leak into another's figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    """One line of the summary table.

    :param benchmark: what is measured, in a few words.
    :param ours: our figure (median, with its spread).
    :param alternatives: the alternatives' figures, same units.
    :param ratio: the claim, as a ratio.
    :param target: the goal, in words.
    :param met: whether the goal was reached (None: no target).
    """

    benchmark: str
    ours: str
    alternatives: str
    ratio: str
    target: str
    met: bool | None


@dataclass
class Result:
    """What one benchmark reports: table rows, and details (Markdown) for results.md."""

    name: str
    title: str
    rows: list[Row]
    details: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Spread:
    """Median and spread of a sample."""

    median: float
    q1: float
    q3: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        data = sorted(values)
        if not data:
            raise ValueError("no samples")
        if len(data) >= 2:
            q1, _, q3 = statistics.quantiles(data, n=4, method="inclusive")
        else:
            q1 = q3 = data[0]
        return cls(statistics.median(data), q1, q3, data[0], data[-1], len(data))

    def fmt(self, digits: int = 1, unit: str = "") -> str:
        """``1.2 ms (IQR 1.1-1.3, n=15)``"""
        return (
            f"{self.median:,.{digits}f}{unit} (IQR {self.q1:,.{digits}f}-{self.q3:,.{digits}f}, n={self.n})"
        )


def fmt_ratio(value: float) -> str:
    return f"{value:.3f}" if value < 0.1 else f"{value:.2f}"


def yes_no(met: bool | None) -> str:
    return "n/a" if met is None else ("**yes**" if met else "**no**")


# --- the machine -------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    """The 1/5/15-minute load averages: above the core count, others competed for the CPU."""
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "unknown"


def machine_info() -> dict[str, str]:
    """What the figures were measured on."""
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "CPU": cpu_model(),
        "Cores": str(os.cpu_count()),
        "Memory": mem or "unknown",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Airflow": _version("apache-airflow"),
        "apache-airflow-providers-http": _version("apache-airflow-providers-http"),
        "apache-airflow-providers-slack": _version("apache-airflow-providers-slack"),
        "requests": _version("requests"),
        "airflow-provider-connectsafely": _version("airflow-provider-connectsafely"),
        "Load average at start (1/5/15 min)": load_average(),
        "Date (UTC)": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
    }


# --- child processes ---------------------------------------------------------------------


@contextlib.contextmanager
def airflow_home() -> Iterator[str]:
    """A throw-away AIRFLOW_HOME: importing Airflow creates ``logs/`` there."""
    path = tempfile.mkdtemp(prefix="connectsafely-bench-airflow-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def child_env(home: str, **extra: str) -> dict[str, str]:
    """The environment for a child: this one, a throw-away AIRFLOW_HOME, no example DAGs."""
    env = dict(os.environ)
    env.update(AIRFLOW_HOME=home, AIRFLOW__CORE__LOAD_EXAMPLES="False")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # keep .pyc caching, as a DAG processor has it
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


@contextlib.contextmanager
def loopback_server(timeout: float = 20.0) -> Iterator[str]:
    """Start ``benchmarks.loopback_server`` in its own process; yield its URL.

    A separate process, so the server never competes with the measured client for the GIL.
    It stops when this context exits, or when our process dies (it watches its stdin).
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.loopback_server", "--exit-with-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline() if proc.stdout else ""))
    reader.start()
    reader.join(timeout)
    try:
        if not line or "listening on" not in line[0]:
            raise RuntimeError(f"loopback server did not start: {line!r}")
        yield line[0].split()[-1]
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def run_child_json(args: list[str], env: dict[str, str], timeout: float) -> dict:
    """Run ``python -m <args>`` whose last stdout line is JSON; return it.

    Its stderr is passed through (errors stay visible); raise when it fails.
    """
    done = subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} exited {done.returncode}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{' '.join(args[:3])} printed no JSON result")
    return json.loads(lines[-1])
