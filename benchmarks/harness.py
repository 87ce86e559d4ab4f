"""What every benchmark shares: results, statistics, the machine, child processes, the server.

A benchmark module exposes ``NAME``, ``TITLE`` and ``run(quick: bool) -> Result``; the runner
(``benchmarks/run.py``) lists the modules, calls ``run`` and renders the table. Benchmarks
import Airflow only in child processes they start, so the runner's own output stays clean and
one benchmark's imports, logging set-up or memory never leak into another's figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

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
        "SQLAlchemy": _version("sqlalchemy"),
        "psycopg": _version("psycopg"),
        "SQLite (Python's sqlite3)": sqlite3.sqlite_version,
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
def _server_process(args: list[str], what: str, timeout: float = 20.0) -> Iterator[str]:
    """Start ``python <args>`` which prints ``... listening on URL`` and serves until its stdin
    closes; yield the URL. A separate process, so the server never competes with the measured
    client for the GIL; it stops when this context exits, or when our process dies."""
    proc = subprocess.Popen(
        [sys.executable, *args],
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
            raise RuntimeError(f"{what} did not start: {line!r}")
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


def python_server(
    args: list[str], what: str, timeout: float = 20.0
) -> contextlib.AbstractContextManager[str]:
    """Start ``python <args>``, a server of a benchmark's own (e.g. an emulator seeded with a
    scenario), which prints ``... listening on URL`` and serves until its stdin closes; yield
    the URL."""
    return _server_process(args, what, timeout)


def loopback_server(timeout: float = 20.0) -> contextlib.AbstractContextManager[str]:
    """Start ``benchmarks.loopback_server`` in its own process; yield its URL."""
    return _server_process(
        ["-m", "benchmarks.loopback_server", "--exit-with-stdin"], "loopback server", timeout
    )


# The package's emulator (validation, recording, quotas), in its own process until stdin closes.
_EMULATOR = """
import sys
from airflow_provider_connectsafely.emulator import EmulatorServer
with EmulatorServer(api_key=sys.argv[1], daily_limit=int(sys.argv[2])) as server:
    print(f"ConnectSafely emulator listening on {server.url}", flush=True)
    sys.stdin.read()
"""


def emulator_server(api_key: str, daily_limit: int = 10**9) -> contextlib.AbstractContextManager[str]:
    """Start the ConnectSafely emulator in its own process; yield its URL (``http://127.0.0.1:PORT``)."""
    return _server_process(["-c", _EMULATOR, api_key, str(daily_limit)], "emulator")


def emulator_call(url: str, method: str, path: str) -> Any:
    """Call one of the emulator's ``/_emulator/*`` admin endpoints (stdlib only); its JSON answer."""
    request = urllib.request.Request(url + path, method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


# --- PostgreSQL ----------------------------------------------------------------------------


def _postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (Debian: /usr/lib/postgresql/<version>/bin)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Postgres:
    """A running throw-away PostgreSQL: ``url`` (SQLAlchemy, psycopg 3), or why there is none."""

    url: str | None
    version: str = ""
    why_not: str = ""


@contextlib.contextmanager
def private_postgres() -> Iterator[Postgres]:
    """A private, throw-away PostgreSQL server for one benchmark: its own data folder under
    /tmp, its own port on 127.0.0.1, password auth, deleted afterwards.

    Debian's shared cluster is left alone (test sessions start and stop it, and others may
    be using it). Runs the server as ``postgres`` when we are root (PostgreSQL refuses root).
    ``fsync`` is off: the data is synthetic and thrown away, and lookups do not write.
    """
    bindir = _postgres_bin()
    if bindir is None:
        yield Postgres(None, why_not="PostgreSQL is not installed (`make postgres-deps` installs it)")
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        yield Postgres(None, why_not="psycopg is not installed (extra `test`)")
        return
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="connectsafely-bench-pg-"))
    owner: tuple[int, int] | None = None
    if os.geteuid() == 0:
        import pwd

        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base, ignore_errors=True)
            yield Postgres(None, why_not="running as root and there is no `postgres` user to run the server")
            return
        owner = (entry.pw_uid, entry.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    password = "bench-" + os.urandom(8).hex()
    data, pwfile, port = base / "data", base / "pw", _free_port()
    pwfile.write_text(password + "\n")
    if owner:
        for path in (base, pwfile):
            os.chown(path, *owner)
    started = False
    try:
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8"]
        initdb += ["--auth=scram-sha-256", f"--pwfile={pwfile}", "--no-sync"]
        _quiet([*as_user, *initdb])
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(data / "server.log")
        _quiet([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "start"])
        started = True
        version = (data / "PG_VERSION").read_text().strip()
        yield Postgres(f"postgresql+psycopg://postgres:{password}@127.0.0.1:{port}/postgres", version)
    except (OSError, subprocess.SubprocessError) as exc:
        if started:
            raise
        yield Postgres(None, why_not=f"could not start a private PostgreSQL: {exc}")
    finally:
        if started:
            _quiet(
                [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], check=False
            )
        shutil.rmtree(base, ignore_errors=True)


def _quiet(command: list[str], check: bool = True) -> None:
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, check=check, timeout=120)


# --- memory ----------------------------------------------------------------------------------


def proc_status_mib(*fields: str) -> dict[str, float]:
    """``VmRSS``, ``VmHWM`` (peak RSS) ... of this process from /proc/self/status, in MiB."""
    values: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in fields:
                values[key] = int(rest.split()[0]) / 1024
    return values


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS; False where Linux does
    not allow it (then the peak includes what came before)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


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


def benchmark_main(
    name: str,
    parser: argparse.ArgumentParser,
    child: Callable[[argparse.Namespace], None],
    argv: list[str] | None,
) -> int:
    """A benchmark module's command line: ``--child`` measures (run by the benchmark itself in
    a fresh process); anything else runs this one benchmark through the runner."""
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result")
    args, rest = parser.parse_known_args(argv)
    if args.child:
        child(args)
        return 0
    from benchmarks.run import main as run_main

    return run_main(["--only", name, *rest])
