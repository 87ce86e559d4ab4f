"""Benchmark 3: one batch task for N recipients, against one mapped task instance per recipient.

The same N personalised messages go to the emulator (``EmulatorServer``, in its own process,
no daily limit) in two ways, each as a real DAG run with ``dag.test()`` in one child process
with a migrated SQLite metadata database under a throw-away ``AIRFLOW_HOME``:

- ``SendLinkedInMessageBatchOperator``: one task, the send ledger on its default SQLite file,
  no pacing (``min_interval=0``) and no daily cap (``daily_limit=0``);
- ``SendLinkedInMessageOperator.partial(...).expand_kwargs(...)``: one mapped task instance
  per recipient, each with its own ledger claim (same file, same settings).

Mapped runs cost tens of milliseconds per task instance, so they are measured at a smaller
N and the per-instance cost is extrapolated to the batch's N; a full run also measures the
mapped DAG once at the batch's N, to check the extrapolation. A DAG with one empty task
measures what every ``dag.test()`` run costs before any task runs (``dag.test()`` re-parses
the dags folder and syncs it to the database on every call), so per-send figures are also
given net of it. The DAGs take turns, after one excluded warm-up each. Each run must succeed
and the emulator must have received exactly the expected N messages.

Run alone: ``python -m benchmarks.batch_vs_mapped [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    REPO,
    Result,
    Row,
    Spread,
    airflow_home,
    benchmark_main,
    child_env,
    emulator_call,
    emulator_server,
    fmt_ratio,
)

NAME = "batch_vs_mapped"
TITLE = "Batch vs mapped tasks"
API_KEY = "bench-batch-key-5d1e"
WARM_N = 5

# The DAG file, written into the throw-away dags folder (dag.test() needs its DAG there).
DAG_FILE = '''"""Benchmark DAGs, written by benchmarks/batch_vs_mapped.py into a throw-away dags folder."""

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.messaging import (
    SendLinkedInMessageBatchOperator,
    SendLinkedInMessageOperator,
)

BATCH_SIZES = {batch_sizes!r}
MAPPED_SIZES = {mapped_sizes!r}
START = pendulum.datetime(2026, 1, 1, tz="UTC")
TEMPLATE = "Hi {{{{ recipient.first_name }}}}, thanks for joining the beta. Reply here if anything breaks."
TEXT = "Hi {{name}}, thanks for joining the beta. Reply here if anything breaks."


def recipients(n):
    return [
        {{"recipient_profile_id": f"bench-member-{{i:05d}}", "first_name": f"Member{{i}}"}} for i in range(n)
    ]


with DAG(dag_id="bench_empty", schedule=None, start_date=START, catchup=False) as dag:
    EmptyOperator(task_id="nothing")
globals()["dag_empty"] = dag

for n in BATCH_SIZES:
    with DAG(dag_id=f"bench_batch_{{n}}", schedule=None, start_date=START, catchup=False) as dag:
        SendLinkedInMessageBatchOperator(
            task_id="send",
            recipients=recipients(n),
            message=TEMPLATE,
            campaign="bench-{{{{ run_id }}}}",  # every run is a new campaign: nothing is skipped
            min_interval=0,
            daily_limit=0,
            progress_every=3600,
        )
    globals()[f"dag_batch_{{n}}"] = dag

for n in MAPPED_SIZES:
    with DAG(dag_id=f"bench_mapped_{{n}}", schedule=None, start_date=START, catchup=False) as dag:
        SendLinkedInMessageOperator.partial(task_id="send", daily_limit=0).expand_kwargs(
            [
                {{"recipient_profile_id": r["recipient_profile_id"], "message": TEXT.format(name=name)}}
                for r in recipients(n)
                for name in [r["first_name"]]
            ]
        )
    globals()[f"dag_mapped_{{n}}"] = dag
'''


def run(quick: bool = False) -> Result:
    if quick:
        batch_n, mapped_n, reps, mapped_full = 200, 50, 2, False
    else:
        batch_n, mapped_n, reps, mapped_full = 1000, 100, 5, True
    with airflow_home() as home, tempfile.TemporaryDirectory() as tmp, emulator_server(API_KEY) as url:
        dags = Path(home) / "dags"
        dags.mkdir()
        mapped_sizes = [WARM_N, mapped_n] + ([batch_n] if mapped_full else [])
        (dags / "bench_batch_vs_mapped.py").write_text(
            DAG_FILE.format(batch_sizes=[WARM_N, batch_n], mapped_sizes=mapped_sizes)
        )
        connection = {"conn_type": "connectsafely", "host": url, "password": API_KEY}
        env = child_env(
            home,
            AIRFLOW__CORE__DAGS_FOLDER=str(dags),
            AIRFLOW_CONN_CONNECTSAFELY_DEFAULT=json.dumps(connection),
        )
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=300,
            check=True,
        )
        migrate_s = time.monotonic() - started
        out = Path(tmp) / "result.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.batch_vs_mapped",
                "--child",
                f"--dag-file={dags / 'bench_batch_vs_mapped.py'}",
                f"--emulator={url}",
                f"--batch-n={batch_n}",
                f"--mapped-n={mapped_n}",
                f"--reps={reps}",
                f"--mapped-full={batch_n if mapped_full else 0}",
                f"--result={out}",
            ],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # dag.test()'s task logs
            timeout=1800,
            check=True,
        )
        data = json.loads(out.read_text())
    data["migrate_s"] = migrate_s
    return summarize(data)


def summarize(data: dict[str, Any]) -> Result:
    batch_n, mapped_n = data["batch_n"], data["mapped_n"]
    batch, mapped, empty = (Spread.of(data["wall"][k]) for k in ("batch", "mapped", "empty"))
    batch_cpu, mapped_cpu = Spread.of(data["cpu"]["batch"]), Spread.of(data["cpu"]["mapped"])
    per_ti = mapped.median / mapped_n
    extrapolated = per_ti * batch_n
    ratio = extrapolated / batch.median
    cpu_ratio = (mapped_cpu.median / mapped_n * batch_n) / batch_cpu.median
    full = data.get("mapped_full")
    measured = ""
    if full:
        measured = (
            f"; measured once at {batch_n:,}: {full['wall']:,.0f} s, "
            f"{full['wall'] / batch.median:,.0f}x the batch"
        )
    rows = [
        Row(
            benchmark=f"{batch_n:,} sends to the emulator in `dag.test()`, no pacing, SQLite ledger",
            ours=f"batch task {batch.fmt(2, ' s')}: {batch.median / batch_n * 1e3:.2f} ms per send",
            alternatives=f"mapped, {mapped_n:,} task instances {mapped.fmt(2, ' s')}: "
            f"{per_ti * 1e3:.0f} ms per instance, so {extrapolated:,.0f} s for {batch_n:,} "
            f"(extrapolated){measured}",
            ratio=f"mapped takes {ratio:,.0f}x the batch's wall time and {cpu_ratio:,.0f}x its CPU "
            f"time (batch: {fmt_ratio(1 / ratio)} of mapped)",
            target="none",
            met=None,
        )
    ]
    net_batch = (batch.median - empty.median) / batch_n
    net_mapped = (mapped.median - empty.median) / mapped_n
    lines = [
        "| DAG run (`dag.test()`) | sends | wall, median | IQR | CPU, median | per send | "
        "per send, net of an empty run |",
        "|---|---|---|---|---|---|---|",
        f"| one empty task (what any run costs) | 0 | {empty.median:.2f} s | "
        f"{empty.q1:.2f}-{empty.q3:.2f} s | "
        f"{Spread.of(data['cpu']['empty']).median:.2f} s | | |",
        f"| batch operator | {batch_n:,} | {batch.median:.2f} s | {batch.q1:.2f}-{batch.q3:.2f} s | "
        f"{batch_cpu.median:.2f} s | {batch.median / batch_n * 1e3:.2f} ms | {net_batch * 1e3:.2f} ms |",
        f"| mapped, one task instance per recipient | {mapped_n:,} | {mapped.median:.2f} s | "
        f"{mapped.q1:.2f}-{mapped.q3:.2f} s | {mapped_cpu.median:.2f} s | {per_ti * 1e3:.1f} ms | "
        f"{net_mapped * 1e3:.1f} ms |",
    ]
    if full:
        lines.append(
            f"| mapped, one task instance per recipient (one run) | {batch_n:,} | {full['wall']:.2f} s | | "
            f"{full['cpu']:.2f} s | {full['wall'] / batch_n * 1e3:.1f} ms | "
            f"{(full['wall'] - empty.median) / batch_n * 1e3:.1f} ms |"
        )
    lines += [
        "",
        f"{batch.n} runs of each DAG, taking turns, after one excluded warm-up run each; one child "
        f"process ran them all (`airflow db migrate` before it: {data['migrate_s']:.1f} s, not "
        "counted). CPU is that process's CPU time; the emulator runs in its own process. Every run "
        "succeeded and the emulator received exactly the expected messages. Both variants claim "
        "and record every send in the same SQLite ledger. The ratio extrapolates the mapped "
        f"per-instance cost linearly from {mapped_n:,} instances"
        + (
            f"; the one run at {batch_n:,} came out at {full['wall'] / batch_n * 1e3:.1f} ms per "
            f"instance against {per_ti * 1e3:.1f} ms at {mapped_n:,}."
            if full
            else "."
        ),
        "",
        "`dag.test()` runs every task instance inside the calling process, one after the other, "
        "with no scheduler, executor or worker process: in a deployment each mapped instance also "
        "waits for scheduling and starts a task process, so its real cost per recipient is higher "
        "than here (and several can run at once, which shortens the wall time but not the work).",
    ]
    return Result(NAME, TITLE, rows, details="\n".join(lines))


# --- the child: dag.test() runs, Airflow imported ----------------------------------------------


def _expected(n: int) -> set[tuple[str, str]]:
    text = "Hi {name}, thanks for joining the beta. Reply here if anything breaks."
    return {(f"bench-member-{i:05d}", text.format(name=f"Member{i}")) for i in range(n)}


def _run_dag(dag: Any, n: int, emulator: str) -> tuple[float, float]:
    emulator_call(emulator, "POST", "/_emulator/reset")
    gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    dag_run = dag.test()
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    if str(dag_run.state) != "success":
        raise SystemExit(f"{dag.dag_id}: the run ended {dag_run.state}")
    messages = emulator_call(emulator, "GET", "/_emulator/messages")["messages"]
    got = [(m["recipientProfileId"], m["message"]) for m in messages]
    if len(got) != n or set(got) != _expected(n):
        raise SystemExit(f"{dag.dag_id}: the emulator received {len(got)} messages, expected {n}")
    return wall, cpu


def _child(args: argparse.Namespace) -> None:
    spec = importlib.util.spec_from_file_location("bench_batch_vs_mapped", args.dag_file)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags = {
        "empty": (module.dag_empty, 0),
        "batch": (getattr(module, f"dag_batch_{args.batch_n}"), args.batch_n),
        "mapped": (getattr(module, f"dag_mapped_{args.mapped_n}"), args.mapped_n),
    }
    for dag, n in (
        (getattr(module, f"dag_batch_{WARM_N}"), WARM_N),
        (getattr(module, f"dag_mapped_{WARM_N}"), WARM_N),
        dags["empty"],
    ):
        _run_dag(dag, n, args.emulator)  # warm-up, excluded
    wall: dict[str, list[float]] = {label: [] for label in dags}
    cpu: dict[str, list[float]] = {label: [] for label in dags}
    labels = list(dags)
    for index in range(args.reps):
        for label in labels[index % len(labels) :] + labels[: index % len(labels)]:
            seconds, cpu_seconds = _run_dag(*dags[label], args.emulator)
            wall[label].append(seconds)
            cpu[label].append(cpu_seconds)
            print(f"   {label}: {seconds:.2f} s", file=sys.stderr, flush=True)
    result: dict[str, Any] = {"batch_n": args.batch_n, "mapped_n": args.mapped_n, "wall": wall, "cpu": cpu}
    if args.mapped_full:
        seconds, cpu_seconds = _run_dag(
            getattr(module, f"dag_mapped_{args.mapped_full}"), args.mapped_full, args.emulator
        )
        print(f"   mapped x{args.mapped_full}: {seconds:.2f} s", file=sys.stderr, flush=True)
        result["mapped_full"] = {"wall": seconds, "cpu": cpu_seconds}
    Path(args.result).write_text(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dag-file")
    parser.add_argument("--emulator")
    parser.add_argument("--batch-n", type=int, default=1000)
    parser.add_argument("--mapped-n", type=int, default=100)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--mapped-full", type=int, default=0)
    return benchmark_main(NAME, parser, _child, argv)


if __name__ == "__main__":
    sys.exit(main())
