"""Benchmark 5: memory and time of a 100,000-recipient dry run of the batch operator.

``SendLinkedInMessageBatchOperator(dry_run=True, use_ledger=False)`` renders and validates
every message and sends nothing. Each sample is a fresh child process that

1. imports the operator and runs a 10-recipient dry run (excluded: it loads the modules
   the run imports lazily, reads the connection, sets up logging);
2. reads its resident set size (``VmRSS``): the *baseline*;
3. builds the recipients (dicts with a profile id and two personalisation fields), as an
   upstream task's XCom would hand them over, and reads ``VmRSS`` again: the *input*;
4. resets the peak (``/proc/self/clear_refs``), runs ``execute`` (timed, wall and CPU) and
   reads the peak (``VmHWM``) while the returned outcomes are still held.

A 1,000-recipient run in the same set-up is the reference: the difference between the two
is what each recipient costs. The two sizes take turns. The connection comes from
``AIRFLOW_CONN_CONNECTSAFELY_DEFAULT`` (JSON); a dry run never contacts the API.

Run alone: ``python -m benchmarks.dry_run_memory [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from benchmarks.harness import (
    REPO,
    Result,
    Row,
    Spread,
    airflow_home,
    benchmark_main,
    child_env,
    proc_status_mib,
    reset_peak_rss,
)

NAME = "dry_run_memory"
TITLE = "Dry-run memory"
TARGET_MIB = 500.0  # issue 6: more than about 500 MB for 100,000 recipients is unreasonable
FULL_SIZE = 100_000
REFERENCE = 1_000
MESSAGE = "Hi {{ recipient.first_name }}, I saw {{ recipient.company }} is hiring. Could we talk next week?"


def run(quick: bool = False) -> Result:
    size, reps = (20_000, 2) if quick else (FULL_SIZE, 3)
    samples: dict[int, list[dict[str, Any]]] = {size: [], REFERENCE: []}
    with airflow_home() as home, tempfile.TemporaryDirectory() as tmp:
        connection = {"conn_type": "connectsafely", "host": "http://127.0.0.1:9", "password": "bench-dry-key"}
        env = child_env(home, AIRFLOW_CONN_CONNECTSAFELY_DEFAULT=json.dumps(connection))
        for index in range(reps):
            for n in (size, REFERENCE) if index % 2 == 0 else (REFERENCE, size):
                out = Path(tmp) / f"{n}-{index}.json"
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.dry_run_memory",
                        "--child",
                        f"--n={n}",
                        f"--result={out}",
                    ],
                    cwd=REPO,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,  # Airflow's console log
                    timeout=600,
                    check=True,
                )
                samples[n].append(json.loads(out.read_text()))
    return summarize(samples, size)


def _spread(samples: list[dict[str, Any]], key: str) -> Spread:
    return Spread.of([sample[key] for sample in samples])


def summarize(samples: dict[int, list[dict[str, Any]]], size: int) -> Result:
    big, small = samples[size], samples[REFERENCE]
    increment = Spread.of([s["peak_mib"] - s["baseline_mib"] for s in big])
    run_part = Spread.of([s["peak_mib"] - s["input_mib"] for s in big])
    small_increment = Spread.of([s["peak_mib"] - s["baseline_mib"] for s in small])
    per_recipient = (increment.median - small_increment.median) * 2**20 / (size - REFERENCE)
    wall, small_wall = _spread(big, "wall_s"), _spread(small, "wall_s")
    cpu = _spread(big, "cpu_s")
    baseline, input_, peak = (_spread(big, key).median for key in ("baseline_mib", "input_mib", "peak_mib"))
    rows = [
        Row(
            benchmark=f"peak RSS of a {size:,}-recipient dry run, fresh process",
            ours=f"peak {peak:,.0f} MiB: +{increment.median:,.0f} MiB over the {baseline:,.0f} MiB "
            f"baseline (IQR {increment.q1:,.0f}-{increment.q3:,.0f}, n={increment.n}), of which "
            f"{input_ - baseline:,.0f} MiB the recipients themselves",
            alternatives=f"{REFERENCE:,}-recipient dry run: +{small_increment.median:,.1f} MiB",
            ratio=f"about {per_recipient:,.0f} bytes per recipient, input included",
            target=f"< {TARGET_MIB:g} MB over baseline"
            + ("" if size == FULL_SIZE else f", judged at {FULL_SIZE:,} only"),
            met=increment.median * 2**20 / 1e6 < TARGET_MIB if size == FULL_SIZE else None,
        ),
        Row(
            benchmark=f"wall time of the {size:,}-recipient dry run",
            ours=f"{wall.fmt(2, ' s')}: {wall.median / size * 1e6:,.0f} µs per recipient",
            alternatives=f"{REFERENCE:,}-recipient dry run {small_wall.median * 1e3:,.0f} ms "
            f"({small_wall.median / REFERENCE * 1e6:,.0f} µs per recipient)",
            ratio=f"CPU {cpu.median / wall.median:.2f} of wall",
            target="none",
            met=None,
        ),
    ]
    lines = [
        "| Recipients | baseline RSS | + recipients (input) | peak RSS in the run | peak - baseline "
        "| peak - input (the run) | wall | CPU | µs per recipient | returned outcomes as JSON |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, group in ((size, big), (REFERENCE, small)):
        w = _spread(group, "wall_s")
        lines.append(
            f"| {n:,} | {_spread(group, 'baseline_mib').median:,.1f} MiB | "
            f"{_spread(group, 'input_mib').median - _spread(group, 'baseline_mib').median:+,.1f} MiB | "
            f"{_spread(group, 'peak_mib').median:,.1f} MiB | "
            f"{Spread.of([s['peak_mib'] - s['baseline_mib'] for s in group]).median:+,.1f} MiB | "
            f"{Spread.of([s['peak_mib'] - s['input_mib'] for s in group]).median:+,.1f} MiB | "
            f"{w.median:,.3f} s (IQR {w.q1:,.3f}-{w.q3:,.3f}) | {_spread(group, 'cpu_s').median:,.3f} s | "
            f"{w.median / n * 1e6:,.0f} | {_spread(group, 'result_json_mib').median:,.1f} MiB |"
        )
    lines += [
        "",
        f"Medians of {len(big)} fresh processes per size, the sizes taking turns. Peak RSS is "
        "`VmHWM` after resetting it just before `execute`; the process's lifetime peak "
        f"(`ru_maxrss`) was {_spread(big, 'maxrss_mib').median:,.0f} MiB. Memory held at the peak "
        f"in the run: {run_part.median:,.0f} MiB (each recipient's rendered, validated request and "
        "its outcome, which the task returns, are alive together at the end). The message "
        "template renders to about "
        f"{big[0]['message_chars']} characters. The last column is the size of the return "
        "value as JSON (what XCom would store), measured after the peak and not counted in it.",
    ]
    return Result(NAME, TITLE, rows, details="\n".join(lines))


# --- the child ------------------------------------------------------------------------------


def _context(run_id: str) -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="bench", task_id="dry_run", run_id=run_id, map_index=-1, try_number=1)
    ti.xcom_push = lambda key, value: None
    return {"ti": ti, "run_id": run_id}


def _operator(recipients: list[dict[str, str]]) -> Any:
    from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageBatchOperator

    return SendLinkedInMessageBatchOperator(
        task_id="dry_run",
        recipients=recipients,
        message=MESSAGE,
        dry_run=True,
        use_ledger=False,
        progress_every=3600,
    )


def _recipients(n: int) -> list[dict[str, str]]:
    return [
        {"recipient_profile_id": f"member-{i:07d}", "first_name": f"Name{i}", "company": f"Company {i % 997}"}
        for i in range(n)
    ]


def _child(args: argparse.Namespace) -> None:
    warm = _operator(_recipients(10)).execute(_context("warm_up"))
    assert warm["summary"]["would_send"] == 10, warm["summary"]
    gc.collect()
    baseline = proc_status_mib("VmRSS")["VmRSS"]
    recipients = _recipients(args.n)
    operator = _operator(recipients)
    gc.collect()
    input_rss = proc_status_mib("VmRSS")["VmRSS"]
    reset = reset_peak_rss()
    cpu = time.process_time()
    start = time.perf_counter()
    result = operator.execute(_context("dry_run"))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak = proc_status_mib("VmHWM")["VmHWM"]
    if result["summary"]["would_send"] != args.n:
        raise SystemExit(f"dry run: {result['summary']}")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    Path(args.result).write_text(
        json.dumps(
            {
                "n": args.n,
                "baseline_mib": baseline,
                "input_mib": input_rss,
                "peak_mib": peak if reset else maxrss,
                "peak_was_reset": reset,
                "maxrss_mib": maxrss,
                "wall_s": wall,
                "cpu_s": cpu,
                "message_chars": len(result["outcomes"][0]["message"]),
                "result_json_mib": len(json.dumps(result)) / 2**20,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    return benchmark_main(NAME, parser, _child, argv)


if __name__ == "__main__":
    sys.exit(main())
