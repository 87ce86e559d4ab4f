"""Benchmark 7: the ledger page's data endpoints on a 1,000,000-send, 100,000-enrolment ledger,
SQLite and PostgreSQL.

The ledger holds 1,000,000 sends spread over 60 days (3 accounts, 10 batch campaigns and one
connect-first sequence, mostly ``sent``, some ``failed``/``unknown``/``pending``) and 100,000
sequence enrolments (90,000 in that sequence, 10,000 in another; every state, steps 0-3,
replies, acceptances and skips), filled fast outside the timing as
``ledger_scale`` does (raw ``executemany`` on SQLite, ``COPY`` + ``VACUUM ANALYZE`` on a private
PostgreSQL from ``harness.private_postgres``). Each sample calls one endpoint's query function
(``plugins.data``: what the route returns, JSON-ready) on an open ledger, as the API server
does after its first request; backends and endpoints take turns, after one excluded warm-up.
Target: every endpoint under 200 ms (median). The alternative, where one makes sense: the
30-day chart as 30 separate per-day ``COUNT`` queries instead of one ``GROUP BY``.

Run alone: ``python -m benchmarks.ui_endpoint [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO, Result, Row, Spread, benchmark_main, fmt_ratio, private_postgres

NAME = "ui_endpoint"
TITLE = "Ledger page endpoints"
TARGET_MS = 200.0
NOW = datetime(2026, 6, 30, 15, 0, tzinfo=timezone.utc)
ENDPOINTS = (
    "today", "daily", "campaigns", "sends", "sends_search", "sends_unknown", "sends_campaign",
    "sends_campaign_unknown", "sends_account", "sends_days", "sends_account_days", "sends_run",
    "sends_csv_day", "funnel_sequence", "funnel_batch", "replies", "replies_campaign",
)  # fmt: skip
#: Enrolments per sends row (100,000 at 1,000,000 sends).
ENROLLMENT_SHARE = 10
SEQUENCE = "welcome"
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
COLUMNS = (
    "dedupe_key", "state", "account", "recipient", "claim_token", "attempts", "retryable", "error",
    "dag_id", "task_id", "run_id", "map_index", "created_at", "updated_at", "campaign", "kind",
)  # fmt: skip


def run(quick: bool = False) -> Result:
    sizes = {"rows": 100_000, "reps": 5} if quick else {"rows": 1_000_000, "reps": 5}
    with private_postgres() as pg, tempfile.TemporaryDirectory(prefix="connectsafely-bench-ui-") as tmp:
        out = Path(tmp) / "result.json"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        if pg.url:
            env["BENCH_PG_URL"] = pg.url
        subprocess.run(
            [
                sys.executable, "-m", "benchmarks.ui_endpoint", "--child",
                f"--rows={sizes['rows']}", f"--reps={sizes['reps']}",
                f"--sqlite={Path(tmp) / 'ledger.sqlite'}", f"--result={out}",
            ],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, timeout=3600, check=True,
        )  # fmt: skip
        data = json.loads(out.read_text())
    data["postgres_missing"] = pg.why_not
    return summarize(data)


def summarize(data: dict[str, Any]) -> Result:
    rows: list[Row] = []
    lines = [
        f"{data['rows']:,} sends, {data['rows'] // ENROLLMENT_SHARE:,} enrolments; "
        f"medians in ms over {data['reps']} samples.",
        "",
    ]
    for backend, figures in data["backends"].items():
        for endpoint in ENDPOINTS:
            spread = Spread.of(figures[endpoint])
            naive = figures.get(f"{endpoint}_naive")
            alt, ratio = "-", "-"
            if naive:
                naive_spread = Spread.of(naive)
                alt = f"30 per-day COUNTs: {naive_spread.fmt(1, ' ms')}"
                ratio = fmt_ratio(spread.median / naive_spread.median)
            rows.append(
                Row(
                    f"{BACKENDS[backend]}, {endpoint}",
                    spread.fmt(1, " ms"),
                    alt,
                    ratio,
                    f"< {TARGET_MS:.0f} ms at 1,000,000 sends",
                    spread.median < TARGET_MS if data["rows"] >= 1_000_000 else None,
                )
            )
    if data.get("postgres_missing"):
        lines.append(f"PostgreSQL not measured: {data['postgres_missing']}")
    return Result(NAME, TITLE, rows, details="\n".join(lines))


# --- the child ---------------------------------------------------------------------------------


def _values(start: int, stop: int, to_time: Callable[[datetime], Any]) -> Iterator[tuple[Any, ...]]:
    states = ["sent"] * 90 + ["failed"] * 6 + ["unknown"] * 3 + ["pending"]
    for i in range(start, stop):
        when = NOW - timedelta(seconds=(i * 5_184) % (60 * 86_400))  # spread over 60 days
        state = states[i % 100]
        if i % 10 == 9:  # a tenth: the sequence's steps (step 1 a connection request)
            step = i // 10 % 3 + 1
            key, label, kind = (
                f"sequence:{SEQUENCE}:{step}:member-{i:08d}",
                f"sequence:{SEQUENCE}",
                ("connect" if step == 1 else "message"),
            )
        else:
            key, label, kind = (
                f"campaign:crm-wave-{i % 10}:member-{i:08d}",
                f"batch:crm-wave-{i % 10}",
                "message",
            )
        yield (
            key, state, f"acct-{i % 3}", f"member-{i:08d}",
            f"00000000-0000-0000-0000-{i:012d}", 1, False,
            "HTTP 502 after sending" if state == "unknown" else None,
            "crm_outreach", "send", f"scheduled__2026-06-{i % 28 + 1:02d}T06:00:00+00:00", -1,
            to_time(when), to_time(when), label, kind,
        )  # fmt: skip


PEOPLE_COLUMNS = (
    "campaign", "recipient", "account", "state", "step", "data", "conversation_urn", "enrolled_at",
    "first_sent_at", "last_sent_at", "replied_at", "reply_text", "error", "updated_at", "accepted_at",
    "skip_reason", "skipped_at",
)  # fmt: skip


def _people(start: int, stop: int, to_time: Callable[[datetime], Any]) -> Iterator[tuple[Any, ...]]:
    states = ["active"] * 60 + ["replied"] * 10 + ["finished"] * 20 + ["failed"] * 5 + ["unknown"] * 2
    states += ["removed"] * 3
    skips = [None] * 95 + ["already connected", "already invited", "outside window", "cap", "cap"]
    for i in range(start, stop):
        enrolled = NOW - timedelta(seconds=(i * 4_321) % (50 * 86_400))
        state, step = states[i % 100], i // 100 % 4
        step = max(step, 1) if state == "replied" else step
        sent = enrolled + timedelta(hours=2 + i % 7) if step else None
        replied = sent + timedelta(minutes=7 + (i * 37) % 5_000) if state == "replied" and sent else None
        yield (
            SEQUENCE if i % 10 else "nurture", f"member-{i:08d}", f"acct-{i % 3}", state, step, "{}",
            f"urn:li:msg_conversation:2-{i:08d}" if step else None, to_time(enrolled),
            to_time(sent) if sent else None, to_time(sent) if sent else None,
            to_time(replied) if replied else None, "Thanks, let's talk\nNext week?" if replied else None,
            None, to_time(replied or sent or enrolled),
            to_time(sent + timedelta(days=1)) if sent and step >= 2 else None,
            skips[i % 100], to_time(enrolled) if skips[i % 100] else None,
        )  # fmt: skip


def _fill(ledger: Any, rows: int) -> None:
    from airflow_provider_connectsafely.ledger.schema import enrollments, sends

    people = rows // ENROLLMENT_SHARE
    tables = (
        (sends.name, COLUMNS, rows, _values),
        (enrollments.name, PEOPLE_COLUMNS, people, _people),
    )
    if ledger.engine.dialect.name == "sqlite":
        # The ledger's own text form of a time (the dialect's type, as SQLAlchemy writes it),
        # so that ranges and keyset pages compare as on a real ledger.
        to_db = sends.c.updated_at.type.dialect_impl(ledger.engine.dialect).bind_processor(
            ledger.engine.dialect
        )
        for table, columns, count, values in tables:
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            with ledger.engine.begin() as conn:
                for start in range(0, count, 50_000):
                    batch = list(values(start, min(count, start + 50_000), to_db or (lambda v: v)))
                    conn.exec_driver_sql(insert, batch)
        with ledger.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    raw = ledger.engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cursor:
            for table, columns, count, values in tables:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in values(0, count, lambda v: v):
                        copy.write_row(row)
            conn.commit()
            conn.autocommit = True
            for table, *_ in tables:
                cursor.execute(f"VACUUM ANALYZE {table}")
    finally:
        raw.close()


def _csv(ledger: Any, wanted: Any) -> int:
    from airflow_provider_connectsafely.plugins import data

    return sum(piece.count("\n") for piece in data.sends_csv(ledger, wanted)) - 1  # rows


def _daily_naive(ledger: Any, now: datetime) -> list[int]:
    from sqlalchemy import func, select

    from airflow_provider_connectsafely.ledger.schema import sends
    from airflow_provider_connectsafely.plugins import data

    first = data.day_start(now) - timedelta(days=29)
    counts = []
    with ledger.engine.connect() as conn:
        for offset in range(30):
            lo, hi = first + timedelta(days=offset), first + timedelta(days=offset + 1)
            query = select(func.count()).select_from(sends)
            query = query.where(sends.c.state == "sent", sends.c.kind == "message")
            query = query.where(sends.c.updated_at >= lo, sends.c.updated_at < hi)
            counts.append(int(conn.execute(query).scalar_one()))
    return counts


def _child(args: argparse.Namespace) -> None:
    from airflow_provider_connectsafely.ledger.store import SendLedger
    from airflow_provider_connectsafely.plugins import data

    urls = {"sqlite": f"sqlite:///{args.sqlite}"}
    if os.environ.get("BENCH_PG_URL"):
        urls["postgresql"] = os.environ["BENCH_PG_URL"]
    ledgers = {}
    for backend, url in urls.items():
        ledger = SendLedger.from_url(url)
        ledger.ensure_schema()
        started = time.perf_counter()
        _fill(ledger, args.rows)
        print(f"   {backend}: {args.rows:,} rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        ledgers[backend] = ledger

    page = data.SendFilter
    day = NOW.date() - timedelta(days=3)
    run = "scheduled__2026-06-07T06:00:00+00:00"
    calls: dict[str, Callable[[Any], Any]] = {
        "today": lambda lg: data.today(lg, NOW, 150),
        "daily": lambda lg: data.daily(lg, NOW),
        "daily_naive": lambda lg: _daily_naive(lg, NOW),
        "campaigns": lambda lg: data.campaigns(lg),
        "sends": lambda lg: data.sends_page(lg, page=3, size=50),
        "sends_search": lambda lg: data.sends_page(lg, page(search="member-0004242"), size=50),
        "sends_unknown": lambda lg: data.sends_page(lg, page(state="unknown"), size=50),
        "sends_campaign": lambda lg: data.sends_page(lg, page(campaign="batch:crm-wave-3"), page=3, size=50),
        "sends_campaign_unknown": lambda lg: data.sends_page(
            lg, page(campaign="batch:crm-wave-3", state="unknown"), size=50
        ),
        "sends_account": lambda lg: data.sends_page(lg, page(account="acct-1"), page=3, size=50),
        "sends_days": lambda lg: data.sends_page(lg, page(since=day - timedelta(days=6), until=day), size=50),
        "sends_account_days": lambda lg: data.sends_page(
            lg, page(account="acct-2", since=day, until=day, state="failed"), size=50
        ),
        "sends_run": lambda lg: data.sends_page(lg, page(run_id=run), size=50),
        "sends_csv_day": lambda lg: _csv(lg, page(campaign="batch:crm-wave-3", since=day, until=day)),
        "funnel_sequence": lambda lg: data.funnel(lg, f"sequence:{SEQUENCE}"),
        "funnel_batch": lambda lg: data.funnel(lg, "batch:crm-wave-3"),
        "replies": lambda lg: data.replies(lg),
        "replies_campaign": lambda lg: data.replies(lg, "sequence:nurture"),
    }
    figures: dict[str, dict[str, list[float]]] = {b: {name: [] for name in calls} for b in urls}
    for backend, ledger in ledgers.items():  # warm-up, excluded; and a sanity check
        answers = {name: call(ledger) for name, call in calls.items()}
        assert [d["sent"] for d in answers["daily"]["days"]] == answers["daily_naive"], backend
        one_day = page(campaign="batch:crm-wave-3", since=day, until=day)
        assert answers["sends_csv_day"] == data.sends_page(ledger, one_day)["total"] >= args.rows // 1_000, (
            backend
        )
        funnel = answers["funnel_sequence"]
        assert funnel["enrolled"] == args.rows // ENROLLMENT_SHARE * 9 // 10, (backend, funnel["enrolled"])
        assert funnel["steps"] and all(s["median_reply_seconds"] for s in funnel["steps"]), funnel
        assert len(answers["replies"]["replies"]) == data.REPLIES_SHOWN, backend
        print(f"   {backend}: funnel {json.dumps(funnel['stages'])}", file=sys.stderr)
    for _ in range(args.reps):
        for backend, ledger in ledgers.items():
            for name, call in calls.items():
                gc.collect()
                start = time.perf_counter()
                call(ledger)
                figures[backend][name].append((time.perf_counter() - start) * 1000)
    for ledger in ledgers.values():
        ledger.close()
    Path(args.result).write_text(json.dumps({"rows": args.rows, "reps": args.reps, "backends": figures}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--sqlite")
    return benchmark_main(NAME, parser, _child, argv)


if __name__ == "__main__":
    sys.exit(main())
