"""Run the benchmarks; print a Markdown table and write it, with the machine, to results.md.

    python -m benchmarks [--quick] [--only NAME ...] [--output PATH | --no-write]

``make bench`` runs this (``make bench BENCH_ARGS=--quick`` for the short version). Every
figure is a median over interleaved samples of ours and the alternatives taken in the same
run on the same machine; claims are the ratios, never the absolute numbers.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import Result, load_average, machine_info, yes_no

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Planned:
    """A benchmark of issue 6 that waits for a feature; listed so the gap stays visible."""

    number: int
    module: str
    title: str
    waits_for: str


# The benchmarks, in issue 6's order. To add one: write benchmarks/<module>.py with NAME,
# TITLE and run(quick: bool) -> Result (see harness.py and import_cost.py), put it here, and
# drop its Planned entry.
BENCHMARKS: list[str] = [
    "benchmarks.import_cost",  # 1. import cost on DAG parsing
    "benchmarks.send_overhead",  # 2. per-send overhead
    "benchmarks.batch_vs_mapped",  # 3. batch operator vs one mapped task instance per recipient
    "benchmarks.ledger_scale",  # 4. the send ledger's dedupe check at scale
    "benchmarks.dry_run_memory",  # 5. memory of a 100,000-recipient dry run
    "benchmarks.sequence_replies",  # 6. API calls of a sequence's reply detection
    "benchmarks.ui_endpoint",  # 7. the ledger page's data endpoints on a 1,000,000-row ledger
    "benchmarks.rate_pacing",  # 8. pacing from the rate-limit headers at 60 requests a minute
    "benchmarks.connect_acceptance",  # 9. relationship reads of connect steps waiting for acceptance
    "benchmarks.sequence_scale",  # 10. a scheduled sequence run, 100,000 enrolments over 20 accounts
]

# Benchmarks of issue 6 still waiting for a feature (none today).
PLANNED: list[Planned] = []

COLUMNS = ("Benchmark", "Ours", "Alternative(s)", "Ratio", "Target", "Met?")


def table(results: list[Result]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for result in results:
        for row in result.rows:
            cells = (
                f"{result.title}: {row.benchmark}",
                row.ours,
                row.alternatives,
                row.ratio,
                row.target,
                yes_no(row.met),
            )
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(results: list[Result], machine: dict[str, str], quick: bool, seconds: float) -> str:
    mode = "quick (`--quick`: fewer samples, wider spread)" if quick else "full"
    parts = [
        "# Benchmark results",
        "",
        f"Written by `python -m benchmarks` ({mode} run, {seconds:.0f} s). Medians over interleaved "
        "samples taken in one run; IQR is the interquartile range; claims are the ratios.",
        "",
        "## Summary",
        "",
        table(results),
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in machine.items()),
    ]
    for result in results:
        parts += ["", f"## {result.title}", "", result.details]
        if result.notes:
            parts += ["", *(f"- {note}" for note in result.notes)]
    pending = [p for p in PLANNED if p.module not in BENCHMARKS]
    if pending:
        parts += ["", "## Not measured yet", ""]
        parts += [f"- {p.number}. {p.title}: waits for {p.waits_for} (`{p.module}`)." for p in pending]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer samples, smaller sizes: a smoke run in about 90 seconds"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this benchmark (import_cost, send_overhead, batch_vs_mapped, ledger_scale, "
        "dry_run_memory, sequence_replies, ui_endpoint, rate_pacing, connect_acceptance, sequence_scale); "
        "repeatable",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the report (default: benchmarks/results.md, or results-quick.md with --quick)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    modules = [importlib.import_module(name) for name in BENCHMARKS]
    if args.only:
        unknown = set(args.only) - {m.NAME for m in modules}
        if unknown:
            parser.error(f"unknown benchmark(s) {sorted(unknown)}; known: {[m.NAME for m in modules]}")
        modules = [m for m in modules if m.NAME in args.only]

    machine = machine_info()
    started = time.monotonic()
    results = []
    for module in modules:
        print(f"== {module.TITLE} ({module.NAME}) ...", file=sys.stderr, flush=True)
        begin = time.monotonic()
        results.append(module.run(quick=args.quick))
        print(f"   done in {time.monotonic() - begin:.0f} s", file=sys.stderr, flush=True)
    machine["Load average at end (1/5/15 min)"] = load_average()
    text = report(results, machine, args.quick, time.monotonic() - started)
    print(text)
    if not args.no_write:
        output = args.output or HERE / ("results-quick.md" if args.quick else "results.md")
        output.write_text(text)
        print(f"(written to {output})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
