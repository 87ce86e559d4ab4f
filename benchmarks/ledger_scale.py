"""Benchmark 4: the send ledger's dedupe check at scale, on SQLite and on PostgreSQL.

A batch looks up every recipient's dedupe key before it sends to any
(``SendLedger.get_many``: chunked ``IN`` queries of ``store._CHUNK`` keys). Here the ledger
holds 1,000,000 rows (realistic ``sent`` rows, with the API answer recorded), and the batch
has 100,000 recipients, half of them already in the ledger and half new, in random order.

The ledger is filled fast and outside the timing: raw ``executemany`` on SQLite (values
bound through the table's own SQLAlchemy types), ``COPY`` then ``VACUUM ANALYZE`` on
PostgreSQL. Each sample opens the ledger afresh, as a task does (engine, first connection,
schema check), and calls ``get_many`` once; SQLite and PostgreSQL take turns, after one
excluded warm-up each. The alternative is the naive loop, one ``SendLedger.get`` (one query)
per key, timed on a 2,000-key sample (same half-and-half mix) and extrapolated linearly.

PostgreSQL is a private, throw-away server (``harness.private_postgres``), not Debian's
shared cluster. Run alone: ``python -m benchmarks.ledger_scale [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO, Result, Row, Spread, benchmark_main, private_postgres

NAME = "ledger_scale"
TITLE = "Send ledger at scale"
TARGET_SECONDS = 2.0  # SQLite, 100,000 keys against 1,000,000 rows (issue 6)
FULL_SIZE = (1_000_000, 100_000)  # (rows, keys) the target is about

CAMPAIGN = "crm.outreach-2026-q1"
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def run(quick: bool = False) -> Result:
    if quick:
        sizes = {"rows": 100_000, "keys": 10_000, "naive": 1_000, "reps": 3, "naive_reps": 2}
    else:
        sizes = {"rows": 1_000_000, "keys": 100_000, "naive": 2_000, "reps": 5, "naive_reps": 3}
    with private_postgres() as pg, tempfile.TemporaryDirectory(prefix="connectsafely-bench-ledger-") as tmp:
        out = Path(tmp) / "result.json"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        if pg.url:
            env["BENCH_PG_URL"] = pg.url  # in the environment, not on a command line
        subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.ledger_scale",
                "--child",
                *(f"--{key.replace('_', '-')}={value}" for key, value in sizes.items()),
                f"--sqlite={Path(tmp) / 'ledger.sqlite'}",
                f"--result={out}",
            ],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=1800,
            check=True,
        )
        data = json.loads(out.read_text())
    data["postgres_version"] = pg.version
    data["postgres_missing"] = pg.why_not
    return summarize(data)


def summarize(data: dict[str, Any]) -> Result:
    rows_n, keys_n, naive_n = data["rows"], data["keys"], data["naive"]
    table_rows: list[Row] = []
    lines = [
        f"Ledger of {rows_n:,} `sent` rows; {keys_n:,} keys looked up, {keys_n // 2:,} present and "
        f"{keys_n - keys_n // 2:,} absent, shuffled; `get_many` sends "
        f"{-(-keys_n // data['chunk']):,} `IN` queries of up to {data['chunk']} keys. "
        f"{len(data['backends']['sqlite']['bulk'])} samples per backend (taking turns, each with a "
        f"freshly opened ledger) after one excluded warm-up; the naive loop ran "
        f"{len(data['backends']['sqlite']['naive'])} times over {naive_n:,} keys.",
        "",
        "| Backend | fill (not measured) | size on disk | `get_many`, median | IQR | min-max "
        "| client CPU | µs per key | one `get` per key | extrapolated to "
        f"{keys_n:,} | bulk speedup |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for backend, label in BACKENDS.items():
        figures = data["backends"].get(backend)
        if figures is None:
            continue
        bulk = Spread.of(figures["bulk"])
        cpu = Spread.of(figures["bulk_cpu"])
        per_key_naive = Spread.of([seconds / naive_n for seconds in figures["naive"]])
        naive_total = per_key_naive.median * keys_n
        speedup = naive_total / bulk.median
        full_size = (rows_n, keys_n) == FULL_SIZE
        judged = backend == "sqlite" and full_size
        if backend != "sqlite":
            target = "none (SQLite's 2 s for reference)"
        elif full_size:
            target = f"< {TARGET_SECONDS:g} s"
        else:
            target = f"< {TARGET_SECONDS:g} s, judged at full size only"
        table_rows.append(
            Row(
                benchmark=f"{label}: `get_many` of {keys_n:,} keys (half present) against {rows_n:,} rows",
                ours=bulk.fmt(2, " s"),
                alternatives=f"one `get` per key: {per_key_naive.median * 1e3:.2f} ms/key, so "
                f"{_secs(naive_total)} for {keys_n:,} (extrapolated from {naive_n:,})",
                ratio=f"{speedup:,.0f}x faster than per-key",
                target=target,
                met=bulk.median < TARGET_SECONDS if judged else None,
            )
        )
        lines.append(
            f"| {label} | {figures['fill_s']:.0f} s | {figures['size_mib']:,.0f} MiB | "
            f"{bulk.median:.2f} s | {bulk.q1:.2f}-{bulk.q3:.2f} s | {bulk.low:.2f}-{bulk.high:.2f} s | "
            f"{cpu.median:.2f} s | {bulk.median / keys_n * 1e6:.1f} | "
            f"{per_key_naive.median * 1e3:.2f} ms | {_secs(naive_total)} | {speedup:,.0f}x |"
        )
    lines += [
        "",
        "Client CPU is the benchmark process's own CPU time: on PostgreSQL the server's work runs "
        "in other processes, so wall time is the figure to read there. Every sample found exactly "
        "the present keys, all `sent`.",
    ]
    notes = []
    if data.get("postgres_missing"):
        notes.append(f"PostgreSQL not measured: {data['postgres_missing']}.")
    elif "postgresql" in data["backends"]:
        version = data["backends"]["postgresql"].get("server_version") or data.get("postgres_version")
        notes.append(
            f"PostgreSQL {version}: a private throw-away server on loopback with initdb's defaults "
            "(shared_buffers 128 MB) and fsync off, opened as `open_ledger` opens a connection's "
            "ledger (`pool_pre_ping=True`: every connection checkout, so every per-key `get`, costs "
            f"one extra round trip). SQLite {data['sqlite_version']} in WAL mode, as "
            "`SendLedger.sqlite` opens it."
        )
    return Result(NAME, TITLE, table_rows, details="\n".join(lines), notes=notes)


def _secs(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


# --- the child ---------------------------------------------------------------------------------


def _key(index: int) -> str:
    return f"campaign:{CAMPAIGN}:member-{index:08d}"


#: The columns ``_rows`` fills, in its order; the others (conversation, settlement) stay NULL.
FILLED = (
    "dedupe_key",
    "state",
    "account",
    "recipient",
    "claim_token",
    "attempts",
    "retryable",
    "error",
    "recipient_urn",
    "response",
    "dag_id",
    "task_id",
    "run_id",
    "map_index",
    "created_at",
    "updated_at",
)


def _rows(start: int, stop: int, now: Any, retryable: Any) -> Iterator[tuple[Any, ...]]:
    """Ledger rows (the ``FILLED`` columns), as a batch leaves them after sending."""
    for index in range(start, stop):
        urn = f"urn:li:fsd_profile:ACoAA{index:020d}"
        answer = {"success": True, "message": "Message sent successfully", "recipientProfileUrn": urn}
        yield (
            _key(index),
            "sent",
            "default",
            f"member-{index:08d}",
            str(uuid.UUID(int=index + 1)),
            1,
            retryable,
            None,
            urn,
            json.dumps(answer),
            "crm_outreach",
            "send",
            f"scheduled__2026-01-{index % 28 + 1:02d}T06:00:00+00:00",
            -1,
            now,
            now,
        )


def _fill_sqlite(ledger: Any, rows: int) -> None:
    from airflow_provider_connectsafely.ledger.schema import sends

    dialect = ledger.engine.dialect
    to_db = sends.c.created_at.type.bind_processor(dialect)
    to_bool = sends.c.retryable.type.bind_processor(dialect)
    now = datetime.now(timezone.utc)
    now_db = to_db(now) if to_db else now
    false_db = to_bool(False) if to_bool else False
    names = FILLED
    insert = f"INSERT INTO {sends.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    with ledger.engine.begin() as conn:
        for start in range(0, rows, 50_000):
            conn.exec_driver_sql(insert, list(_rows(start, min(rows, start + 50_000), now_db, false_db)))
    with ledger.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _fill_postgres(ledger: Any, rows: int) -> None:
    from airflow_provider_connectsafely.ledger.schema import sends

    names = FILLED
    now = datetime.now(timezone.utc)
    raw = ledger.engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cursor:
            with cursor.copy(f"COPY {sends.name} ({', '.join(names)}) FROM STDIN") as copy:
                for row in _rows(0, rows, now, False):
                    copy.write_row(row)
            conn.commit()
            conn.autocommit = True
            cursor.execute(f"VACUUM ANALYZE {sends.name}")
    finally:
        raw.close()


def _server_version(ledger: Any) -> str:
    with ledger.engine.connect() as conn:
        return str(conn.exec_driver_sql("SHOW server_version").scalar())


def _size_mib(ledger: Any, backend: str, sqlite_path: str) -> float:
    if backend == "sqlite":
        return os.path.getsize(sqlite_path) / 2**20
    with ledger.engine.connect() as conn:
        return (
            int(conn.exec_driver_sql("SELECT pg_total_relation_size('connectsafely_sends')").scalar()) / 2**20
        )


def _open(url: str) -> Any:
    from airflow_provider_connectsafely.ledger.store import SendLedger

    # As open_ledger opens them: SQLite through from_url (WAL pragmas), others with pre-ping.
    return (
        SendLedger.from_url(url) if url.startswith("sqlite") else SendLedger.from_url(url, pool_pre_ping=True)
    )


def _child(args: argparse.Namespace) -> None:
    import sqlite3

    from airflow_provider_connectsafely.ledger import store

    urls = {"sqlite": f"sqlite:///{args.sqlite}"}
    if os.environ.get("BENCH_PG_URL"):
        urls["postgresql"] = os.environ["BENCH_PG_URL"]
    fillers = {"sqlite": _fill_sqlite, "postgresql": _fill_postgres}

    figures: dict[str, dict[str, Any]] = {}
    for backend, url in urls.items():
        ledger = _open(url)
        ledger.ensure_schema()
        started = time.perf_counter()
        fillers[backend](ledger, args.rows)
        figures[backend] = {
            "fill_s": time.perf_counter() - started,
            "size_mib": _size_mib(ledger, backend, args.sqlite),
            "bulk": [],
            "bulk_cpu": [],
            "naive": [],
        }
        if backend == "postgresql":
            figures[backend]["server_version"] = _server_version(ledger)
        ledger.close()
        print(f"   {backend}: {args.rows:,} rows filled", file=sys.stderr, flush=True)

    rng = random.Random(6)
    present = [_key(index) for index in rng.sample(range(args.rows), args.keys // 2)]
    absent = [_key(args.rows + index) for index in range(args.keys - args.keys // 2)]
    keys = present + absent
    rng.shuffle(keys)
    sample = present[: args.naive // 2] + absent[: args.naive - args.naive // 2]
    rng.shuffle(sample)
    expected = set(present)

    def bulk(url: str) -> tuple[float, float]:
        gc.collect()
        cpu = time.process_time()
        start = time.perf_counter()
        ledger = _open(url)
        found = ledger.get_many(keys)
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
        ledger.close()
        if set(found) != expected or any(entry.state != "sent" for entry in found.values()):
            raise SystemExit(f"get_many found {len(found)} keys, expected the {len(expected)} present ones")
        return wall, cpu

    def naive(url: str) -> float:
        gc.collect()
        start = time.perf_counter()
        ledger = _open(url)
        hits = sum(ledger.get(key) is not None for key in sample)
        wall = time.perf_counter() - start
        ledger.close()
        if hits != args.naive // 2:
            raise SystemExit(f"the per-key loop found {hits} keys, expected {args.naive // 2}")
        return wall

    backends = list(urls)
    for backend in backends:  # warm-up, excluded
        bulk(urls[backend])
    for index in range(args.reps):
        for backend in backends[index % len(backends) :] + backends[: index % len(backends)]:
            wall, cpu = bulk(urls[backend])
            figures[backend]["bulk"].append(wall)
            figures[backend]["bulk_cpu"].append(cpu)
    for index in range(args.naive_reps):
        for backend in backends[index % len(backends) :] + backends[: index % len(backends)]:
            figures[backend]["naive"].append(naive(urls[backend]))

    Path(args.result).write_text(
        json.dumps(
            {
                "rows": args.rows,
                "keys": args.keys,
                "naive": args.naive,
                "chunk": store._CHUNK,
                "sqlite_version": sqlite3.sqlite_version,
                "backends": figures,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=2_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--naive-reps", type=int, default=3)
    parser.add_argument("--sqlite")
    return benchmark_main(NAME, parser, _child, argv)


if __name__ == "__main__":
    sys.exit(main())
