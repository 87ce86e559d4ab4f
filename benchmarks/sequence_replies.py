"""Benchmark 6: API calls and time of a sequence's reply detection.

A sequence must learn who replied before it sends a follow-up. Ours reads the account-wide
listing (``GET /linkedin/messaging/recent-messages``, 100 messages a page) from a watermark;
the naive way reads every active conversation once (``find_replies`` per enrolment).

For each size (100, 1,000 and 10,000 enrolments), in one process against the emulator over
loopback: a sequence run sends step 1 to everyone (not measured), 20 people reply, and then

- **first check**: the next run of the sequence (the follow-up not due yet), whose listing
  still covers every step-1 message the account sent;
- **steady state**: 20 more replies, and the run after that, which reads only what came
  since the previous run (runs an hour apart: the clock is moved with time-machine, in this
  process only, so the emulator and the ledger agree on it);
- **naive**: one ``find_replies`` call per enrolment, on the same conversations.

Calls are the emulator's own request counts for ``GET`` endpoints; times are wall times of
the run (ledger work included) or of the naive loop. Both detect the same 20 replies, which
the benchmark checks.

Run alone: ``python -m benchmarks.sequence_replies [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import time_machine

from benchmarks.harness import Result, Row, benchmark_main

NAME = "sequence_replies"
TITLE = "Sequence reply detection"
SIZES = (100, 1_000, 10_000)
QUICK_SIZES = (100, 1_000)
REPLIES = 20
TARGET_CALLS = 20  # the issue: 1,000 enrolments with 20 new replies in at most ~20 calls


def _reads(emulator: Any) -> int:
    return sum(n for path, n in emulator.request_counts().items() if path.startswith("GET "))


def measure(size: int) -> dict[str, Any]:
    from airflow_provider_connectsafely.emulator import EmulatorServer
    from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook
    from airflow_provider_connectsafely.ledger.sequences import ACTIVE, SequenceStore
    from airflow_provider_connectsafely.ledger.store import SendLedger
    from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

    with (
        tempfile.TemporaryDirectory() as folder,
        EmulatorServer(api_key="bench-key", daily_limit=10**9) as emulator,
    ):
        os.environ["AIRFLOW_CONN_CONNECTSAFELY_DEFAULT"] = json.dumps(
            {"conn_type": "connectsafely", "host": emulator.url, "password": "bench-key"}
        )
        os.environ["AIRFLOW_CONN_BENCH_LEDGER"] = json.dumps(
            {"conn_type": "sqlite", "host": str(Path(folder) / "ledger.sqlite")}
        )
        people = [{"recipient_profile_id": f"lead-{n:05d}", "first_name": f"Lead {n}"} for n in range(size)]
        operator = LinkedInSequenceOperator(
            task_id="outreach",
            campaign=f"bench-{size}",
            recipients=people,
            steps=[
                SequenceStep("Hi {{ recipient.first_name }}"),
                SequenceStep("Ping", wait=timedelta(days=3)),
            ],
            ledger_conn_id="bench_ledger",
            daily_limit=0,
        )
        ti = SimpleNamespace(dag_id="bench", task_id="outreach", run_id="r1", map_index=-1, try_number=1)
        context: Any = {"ti": ti, "run_id": "r1"}
        operator.execute(context)

        def reply_batch(start: int) -> None:
            for n in range(start, start + REPLIES):
                emulator.reply(profile_id=f"lead-{n * (size // (2 * REPLIES)):05d}", text=f"reply {n}")

        def timed_run() -> tuple[int, float, dict[str, Any]]:
            before = _reads(emulator)
            started = time.perf_counter()
            result = operator.execute(context)
            return _reads(emulator) - before, time.perf_counter() - started, result

        # Scheduled runs are an hour apart: the clock (ours and the emulator's, one process)
        # moves forward by an hour before each batch of replies and the run that reads them.
        started_at = datetime.now(timezone.utc)
        with time_machine.travel(started_at + timedelta(hours=1), tick=True):
            reply_batch(0)
            first_calls, first_seconds, first = timed_run()
        with time_machine.travel(started_at + timedelta(hours=2), tick=True):
            reply_batch(REPLIES)
            steady_calls, steady_seconds, steady = timed_run()
        assert first["summary"]["replied"] == REPLIES and steady["summary"]["replied"] == 2 * REPLIES

        ledger = SendLedger.from_url(f"sqlite:///{Path(folder) / 'ledger.sqlite'}")
        watched = [e for e in SequenceStore(ledger).enrollments(f"bench-{size}", (ACTIVE,))]
        hook = ConnectSafelyHook()
        before = _reads(emulator)
        started = time.perf_counter()
        found = sum(
            bool(hook.find_replies(str(e.conversation_urn), since=str(e.first_sent_at))) for e in watched
        )
        naive_seconds = time.perf_counter() - started
        naive_calls = _reads(emulator) - before
        ledger.close()
        return {
            "size": size,
            "first": (first_calls, first_seconds),
            "steady": (steady_calls, steady_seconds),
            "naive": (naive_calls, naive_seconds),
            "naive_found": found,
        }


def run(quick: bool = False) -> Result:
    samples = [measure(size) for size in (QUICK_SIZES if quick else SIZES)]
    rows = []
    lines = [
        "| Enrolments | first check: calls, s | steady state: calls, s | naive: calls, s "
        "| calls saved (first / steady) |",
        "|---|---|---|---|---|",
    ]
    for s in samples:
        (fc, fs), (sc, ss), (nc, ns) = s["first"], s["steady"], s["naive"]
        saved = f"{nc / fc:.0f}x / {nc / sc:.0f}x"
        lines.append(f"| {s['size']:,} | {fc}, {fs:.2f} | {sc}, {ss:.2f} | {nc:,}, {ns:.2f} | {saved} |")
        met = fc <= TARGET_CALLS + 1 if s["size"] == 1_000 else None
        rows.append(
            Row(
                benchmark=f"{s['size']:,} active enrolments, {REPLIES} new replies: API calls (wall time)",
                ours=f"first check {fc} calls ({fs:.2f} s); steady state {sc} calls ({ss:.2f} s)",
                alternatives=f"one read per conversation: {nc:,} calls ({ns:.2f} s)",
                ratio=f"{nc / fc:.0f}x fewer calls (first check), {nc / sc:.0f}x (steady state)",
                target=f"<= ~{TARGET_CALLS} calls at 1,000" if s["size"] == 1_000 else "none",
                met=met,
            )
        )
    details = "\n".join(lines) + (
        "\n\nThe first check's listing pages through every message the account sent since the "
        "first step (100 a page), so it grows with the enrolments sent since the last check; "
        "later runs read only what came since the previous run. Times include each run's "
        "ledger work (SQLite) and are loopback times: against the real API, each saved call "
        "also saves a network round trip and a share of the 60-requests-a-minute budget."
    )
    return Result(NAME, TITLE, rows, details)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sequence_replies")
    return benchmark_main(NAME, parser, lambda args: None, argv)


if __name__ == "__main__":
    raise SystemExit(main())
