"""Benchmark 10: one scheduled run of a sequence at agency scale, on SQLite and PostgreSQL.

A three-step sequence (``LinkedInSequenceOperator``: a first message, a follow-up 3 days
later, a last one 4 days after that; ``stop_on_reply=True``) has 100,000 people enrolled
over 20 LinkedIn accounts (``account_ids``). Every person got step 1 within the last three
days, before today (so today's caps count none of it); 1 in 1,000 replied since the previous
hourly run. Two cases:

- **nothing due**: no follow-up is due yet: the steady state of an hourly schedule;
- **1% due**: 1,000 people got step 1 just over three days ago, so their follow-up is due.

The ledger and the emulator are filled fast and outside the timing, from one seeded
scenario whose times are relative to a fixed ``NOW``, not to today's date: the enrolments and
their step-1 ``sent`` rows in the shapes ``SequenceStore`` and ``SendLedger`` write (bulk
``executemany`` on SQLite, ``COPY`` on PostgreSQL with the counting trigger disabled and the
counts backfilled once by a ``GROUP BY``), the reply watermark of each account an hour old;
the emulator holds each person's conversation with step 1 and the new replies. Each sample
then runs in a fresh process, on a fresh copy of the filled ledger and a freshly seeded
emulator: the modules a task process has already imported are imported, the 100,000
recipient rows are built (the DAG passes every recipient of the campaign each run, as an
upstream task or ``recipients_sql`` would), and the operator's ``execute`` runs with a
minimal task context, through the real code path: the ledger opened from its connection,
``GET /linkedin/accounts``, replies read, due steps sent, the outcomes returned. The clock
of the ledger (``SendLedger.clock``) and of the emulator both start at ``NOW`` and tick.

Measured per case and database: the wall and CPU time of ``execute``; its peak RSS
(``VmHWM`` reset just before it); the API requests by endpoint (the emulator's own record),
reply reads per account included; SQL statements; the time spent in the main phases
(wrappers around the real functions, inclusive times). Goals from the issue: nothing due in
at most 2 s and at most 1 reply read per account; peak RSS at most 300 MB.

Run alone: ``python -m benchmarks.sequence_scale [--quick]`` (``--quick``: 10,000 enrolments,
one sample).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import gc
import hashlib
import importlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
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
    emulator_call,
    private_postgres,
    proc_status_mib,
    python_server,
    reset_peak_rss,
)

NAME = "sequence_scale"
TITLE = "Agency-scale sequence run"
FULL_SIZE = 100_000
QUICK_SIZE = 10_000
ACCOUNTS = tuple(f"li-agency-{n:02d}" for n in range(1, 21))
CAMPAIGN = "agency-2026-q1"
API_KEY = "bench-agency-key"
SEED = 20260304
#: The run's "now", a Wednesday at 10:00 UTC: every time of the scenario is relative to it.
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=timezone.utc)
FOLLOW_UP = timedelta(days=3)
LAST_STEP = timedelta(days=4)
STEPS = (
    (
        "Hi {{ recipient.first_name }}, I saw {{ recipient.company }} is hiring. Could we talk next week?",
        None,
    ),
    ("Following up, {{ recipient.first_name }}: would a short call next week work?", FOLLOW_UP),
    ("Last note from me, {{ recipient.first_name }}: happy to talk when it suits you.", LAST_STEP),
)
DUE_ONE_IN = 100  # the "due" case: 1% of the enrolments have their follow-up due
REPLY_ONE_IN = 1_000  # replies since the previous run (both cases)
WATERMARK_AGE = timedelta(hours=1)  # the previous hourly run read replies up to then
TARGET_SECONDS = 2.0  # nothing due
TARGET_READS_PER_ACCOUNT = 1  # nothing due
TARGET_RSS_MB = 300.0
CASES = {"none": "nothing due", "due": "1% due"}
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
RECENT = "GET /linkedin/messaging/recent-messages"
RUN_ID = "scheduled__2026-03-04T10:00:00+00:00"
#: The functions timed in the measured run (inclusive times; they nest): module, class, name.
PHASES = (
    ("operators.base", "ConnectSafelyBaseOperator", "_account_pool"),
    ("outreach.batch", None, "prepare_items"),
    ("outreach.sequence", "SequenceRun", "execute"),
    ("ledger.sequences", "SequenceStore", "recipients"),
    ("outreach.sequence", "SequenceRun", "_newcomers"),
    ("ledger.sequences", "SequenceStore", "enroll"),
    ("ledger.sequences", "SequenceStore", "reconcile"),
    ("outreach.reply_check", "ReplyCheck", "run"),
    ("ledger.sequences", "SequenceStore", "due"),
    ("outreach.sequence", "SequenceRun", "_send_due"),
    ("outreach.sequence", "SequenceRun", "_report"),
)


# --- the parent ------------------------------------------------------------------------------


def run(quick: bool = False) -> Result:
    size, reps = (QUICK_SIZE, 1) if quick else (FULL_SIZE, 3)
    with (
        private_postgres() as pg,
        airflow_home() as home,
        tempfile.TemporaryDirectory(prefix="connectsafely-bench-sequence-") as tmp,
    ):
        backends = ["sqlite"] + (["postgresql"] if pg.url else [])
        env = child_env(home)
        if pg.url:
            env["BENCH_PG_URL"] = pg.url  # in the environment, not on a command line
        fills: dict[str, dict[str, Any]] = {}
        for backend in backends:
            for case in CASES:
                template = (
                    str(Path(tmp) / f"template-{case}.sqlite") if backend == "sqlite" else f"tmpl_{case}"
                )
                out = Path(tmp) / f"fill-{backend}-{case}.json"
                _run_child(
                    [
                        "--mode=fill",
                        f"--backend={backend}",
                        f"--case={case}",
                        f"--size={size}",
                        f"--template={template}",
                        f"--result={out}",
                    ],
                    env,
                    Path(tmp) / "fill.log",
                )
                fills[f"{backend}/{case}"] = {"template": template, **json.loads(out.read_text())}
                print(
                    f"   {backend}, {CASES[case]}: {size:,} enrolments filled in "
                    f"{fills[f'{backend}/{case}']['fill_s']:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
        pairs = [(b, c) for b in backends for c in CASES]
        samples: dict[str, list[dict[str, Any]]] = {f"{b}/{c}": [] for b, c in pairs}
        for rep in range(reps):
            for backend, case in pairs[rep % len(pairs) :] + pairs[: rep % len(pairs)]:
                key = f"{backend}/{case}"
                sample = _sample(backend, case, size, rep, fills[key]["template"], env, Path(tmp), pg.url)
                samples[key].append(sample)
                print(
                    f"   {backend}, {CASES[case]}, sample {rep + 1}: {sample['wall_s']:.2f} s, "
                    f"peak {sample['peak_mib']:.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
    data = {
        "size": size,
        "reps": reps,
        "fills": fills,
        "samples": samples,
        "postgres_version": pg.version,
        "postgres_missing": pg.why_not,
    }
    return summarize(data)


def _run_child(args: list[str], env: dict[str, str], log: Path) -> None:
    """``python -m benchmarks.sequence_scale --child <args>``; its stdout (Airflow's console
    log) goes to ``log``, shown when it fails."""
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.sequence_scale", "--child", *args],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            timeout=1800,
            check=False,
        )
    if done.returncode != 0:
        tail = log.read_text()[-4000:]
        raise RuntimeError(f"sequence_scale child {args[0]} exited {done.returncode}; its log ends:\n{tail}")


def _sample(
    backend: str,
    case: str,
    size: int,
    rep: int,
    template: str,
    env: dict[str, str],
    tmp: Path,
    pg_url: str | None,
) -> dict[str, Any]:
    """One measured run: a freshly seeded emulator, a fresh copy of the filled ledger."""
    epoch = time.time()  # both clocks read NOW + (time.time() - epoch)
    emulator = ["-m", "benchmarks.sequence_scale", "--child", "--mode=emulator"]
    emulator += [f"--case={case}", f"--size={size}", f"--epoch={epoch}"]
    work = str(tmp / f"work-{case}-{rep}.sqlite") if backend == "sqlite" else f"work_{case}_{rep}"
    out = tmp / f"sample-{backend}-{case}-{rep}.json"
    with python_server(emulator, "seeded emulator", timeout=300) as url:
        connection = {"conn_type": "connectsafely", "host": url, "password": API_KEY}
        sample_env = {
            **env,
            "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT": json.dumps(connection),
            "AIRFLOW_CONN_BENCH_LEDGER": json.dumps(_ledger_connection(backend, work, pg_url)),
        }
        _run_child(
            [
                "--mode=measure",
                f"--backend={backend}",
                f"--case={case}",
                f"--size={size}",
                f"--template={template}",
                f"--work={work}",
                f"--emulator={url}",
                f"--epoch={epoch}",
                f"--result={out}",
            ],
            sample_env,
            tmp / f"measure-{backend}-{case}-{rep}.log",
        )
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(work + suffix).unlink(missing_ok=True)
    return dict(json.loads(out.read_text()))


def _ledger_connection(backend: str, work: str, pg_url: str | None) -> dict[str, Any]:
    """The Airflow connection of the ledger, as a user defines it."""
    if backend == "sqlite":
        return {"conn_type": "sqlite", "host": work}
    assert pg_url is not None
    parts = urllib.parse.urlsplit(pg_url)
    return {
        "conn_type": "postgres",
        "host": parts.hostname,
        "port": parts.port,
        "login": parts.username,
        "password": urllib.parse.unquote(parts.password or ""),
        "schema": work,
    }


# --- the report ------------------------------------------------------------------------------


def _median(samples: list[dict[str, Any]], key: str) -> float:
    return Spread.of([float(s[key]) for s in samples]).median


def summarize(data: dict[str, Any]) -> Result:
    size = data["size"]
    full = size == FULL_SIZE
    n_due, n_replies = size // DUE_ONE_IN, size // REPLY_ONE_IN
    samples: dict[str, list[dict[str, Any]]] = data["samples"]
    backends = [b for b in BACKENDS if f"{b}/none" in samples]
    rows: list[Row] = []
    judged = "" if full else f", judged at {FULL_SIZE:,} only"
    for backend in backends:
        label = BACKENDS[backend]
        none, due = samples[f"{backend}/none"], samples[f"{backend}/due"]
        wall_none = Spread.of([s["wall_s"] for s in none])
        wall_due = Spread.of([s["wall_s"] for s in due])
        rows.append(
            Row(
                benchmark=f"{label}: wall time of one run, {size:,} enrolments over {len(ACCOUNTS)} accounts",
                ours=f"nothing due {wall_none.fmt(2, ' s')}; 1% due ({n_due:,} follow-ups sent) "
                f"{wall_due.fmt(2, ' s')}",
                alternatives="-",
                ratio=f"nothing due: {wall_none.median / size * 1e6:,.0f} µs per enrolment",
                target=f"nothing due <= {TARGET_SECONDS:g} s{judged}",
                met=wall_none.median <= TARGET_SECONDS if full else None,
            )
        )
        peak_none, peak_due = _median(none, "peak_mib"), _median(due, "peak_mib")
        rows.append(
            Row(
                benchmark=f"{label}: peak RSS of the run, fresh task process",
                ours=f"nothing due {peak_none:,.0f} MiB; 1% due {peak_due:,.0f} MiB (baseline "
                f"{_median(none, 'baseline_mib'):,.0f} MiB, recipients' rows "
                f"+{_median(none, 'input_mib') - _median(none, 'baseline_mib'):,.0f} MiB)",
                alternatives="-",
                ratio=f"{(peak_none - _median(none, 'baseline_mib')) * 2**20 / size:,.0f} bytes per "
                "enrolment over the baseline (nothing due)",
                target=f"<= {TARGET_RSS_MB:g} MB{judged}",
                met=max(peak_none, peak_due) * 2**20 / 1e6 <= TARGET_RSS_MB if full else None,
            )
        )
        reads_none = max(max(s["reads_per_account"].values(), default=0) for s in none)
        reads_due = max(max(s["reads_per_account"].values(), default=0) for s in due)
        calls_none = _calls(none)
        rows.append(
            Row(
                benchmark=f"{label}: reply-detection calls ({RECENT}), {len(ACCOUNTS)} accounts",
                ours=f"nothing due {calls_none.get(RECENT, 0):,} calls, at most {reads_none} per account; "
                f"1% due {_calls(due).get(RECENT, 0):,}, at most {reads_due} per account",
                alternatives=f"all API calls: nothing due {sum(calls_none.values()):,}, 1% due "
                f"{sum(_calls(due).values()):,}",
                ratio=f"{n_replies:,} new replies found in each case",
                target=f"<= {TARGET_READS_PER_ACCOUNT} per account, nothing due",
                met=reads_none <= TARGET_READS_PER_ACCOUNT,
            )
        )
    return Result(NAME, TITLE, rows, details=_details(data, backends), notes=_notes(data))


def _calls(group: list[dict[str, Any]]) -> dict[str, int]:
    """API requests by endpoint (identical in every sample of a case: the run is deterministic)."""
    return dict(group[0]["calls"])


def _details(data: dict[str, Any], backends: list[str]) -> str:
    size = data["size"]
    samples: dict[str, list[dict[str, Any]]] = data["samples"]
    lines = [
        f"{size:,} enrolments over {len(ACCOUNTS)} accounts, a 3-step sequence (follow-ups "
        f"{FOLLOW_UP.days} and {LAST_STEP.days} days apart), `stop_on_reply=True`, the default "
        f"daily cap; {size // REPLY_ONE_IN:,} replies since the previous run; the 1% case sends "
        f"{size // DUE_ONE_IN:,} follow-ups (`min_interval=0`). {data['reps']} sample(s) per case "
        "and database, each a fresh process on a fresh copy of the ledger and a freshly seeded "
        "emulator, the cases and databases taking turns. Medians.",
        "",
        "| Database | case | fill (not measured) | wall | CPU | baseline RSS | + recipients' rows "
        "| peak RSS in the run | API calls by endpoint | SQL statements | outcomes as JSON |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for backend in backends:
        for case, words in CASES.items():
            group = samples[f"{backend}/{case}"]
            wall = Spread.of([s["wall_s"] for s in group])
            calls = ", ".join(f"`{endpoint}` {n:,}" for endpoint, n in sorted(_calls(group).items()))
            statements = Counter(group[0]["statements"])
            sql = ", ".join(f"{verb} {n:,}" for verb, n in statements.most_common())
            baseline = _median(group, "baseline_mib")
            lines.append(
                f"| {BACKENDS[backend]} | {words} | {data['fills'][f'{backend}/{case}']['fill_s']:.0f} s | "
                f"{wall.median:.2f} s (IQR {wall.q1:.2f}-{wall.q3:.2f}) | {_median(group, 'cpu_s'):.2f} s | "
                f"{baseline:,.0f} MiB | +{_median(group, 'input_mib') - baseline:,.0f} MiB | "
                f"{_median(group, 'peak_mib'):,.0f} MiB | {calls} | {sql} | "
                f"{_median(group, 'result_json_mib'):,.1f} MiB |"
            )
    columns = [(b, c) for b in backends for c in CASES]
    lines += [
        "",
        "Where the time goes: seconds inside each function during the run (median; inclusive, so "
        "they nest: `SequenceRun.execute` holds the rest but `_account_pool` and `prepare_items`, "
        "which the operator calls before it with one `recipients` read (the enrolled identities: "
        "only the rows of people not enrolled yet are rendered); `due` reads only the enrolments "
        "whose next step may be due), and how many calls.",
        "",
        "| function | " + " | ".join(f"{BACKENDS[b]}, {CASES[c]}" for b, c in columns) + " |",
        "|---|" + "---|" * len(columns),
        "| `LinkedInSequenceOperator.execute` (the run) | "
        + " | ".join(f"{_median(samples[f'{b}/{c}'], 'wall_s'):.2f} s" for b, c in columns)
        + " |",
    ]
    for _module, owner, name in PHASES:
        label = f"{owner}.{name}" if owner else name
        cells = []
        for b, c in columns:
            group = samples[f"{b}/{c}"]
            times = [sum(s["phases"].get(label, [])) for s in group]
            ncalls = len(group[0]["phases"].get(label, []))
            cells.append(f"{Spread.of(times).median:.2f} s ({ncalls}x)" if ncalls else "-")
        lines.append(f"| `{label}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _notes(data: dict[str, Any]) -> list[str]:
    notes = [
        "The recipients' rows are the campaign's whole list (every enrolled person, none new), "
        "as a DAG passes them each run from an upstream task or `recipients_sql`; building them "
        "is not timed, their memory is in the peak.",
        "The scenario is synthetic: 100,000 step-1 messages within three days is more than 20 "
        "accounts' daily caps allow (150 each); the fill puts them all before today, so the caps "
        "count only this run's sends. Replies arrive only in the last hour, so each account's "
        "listing since its watermark fits one page (100 messages).",
        "Loopback figures with the emulator in its own process: its work (it scans its "
        "100,000 conversations per listing page) is in the wall time, not in the RSS.",
    ]
    if data.get("postgres_missing"):
        notes.append(f"PostgreSQL not measured: {data['postgres_missing']}.")
    elif data.get("postgres_version"):
        notes.append(
            f"PostgreSQL {data['postgres_version']}: a private throw-away server on loopback "
            "(`harness.private_postgres`, fsync off), filled with `COPY` (the counting trigger "
            "disabled, the counts backfilled once) and `VACUUM ANALYZE`d; opened as `open_ledger` "
            "opens a connection's ledger (`pool_pre_ping=True`). SQLite in WAL mode, as "
            "`SendLedger.from_url` opens it, not analyzed."
        )
    return notes


# --- the scenario ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """One enrolment of the scenario: who, from which account, when step 1 went out, and when
    they replied (None: no reply)."""

    index: int
    account: str
    enrolled_at: datetime
    first_sent_at: datetime
    reply_at: datetime | None

    @property
    def profile_id(self) -> str:
        return _profile_id(self.index)

    @property
    def first_text(self) -> str:
        """Step 1 as the template renders it for this person."""
        row = _row(self.index)
        return f"Hi {row['first_name']}, I saw {row['company']} is hiring. Could we talk next week?"


def _profile_id(index: int) -> str:
    return f"lead-{index:06d}"


def _row(index: int) -> dict[str, str]:
    """A recipient's row, as the DAG passes it (and as the enrolment keeps it)."""
    return {
        "recipient_profile_id": _profile_id(index),
        "first_name": f"Lead {index}",
        "company": f"Company {index % 997}",
    }


def people(size: int, case: str) -> list[Person]:
    """The seeded scenario: the same people, accounts and times on every run and machine."""
    rng = random.Random(SEED)
    midnight = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    newest = (NOW - midnight + timedelta(minutes=5)).total_seconds()  # before today
    oldest = (FOLLOW_UP - timedelta(minutes=30)).total_seconds()  # the follow-up not due yet
    base = [
        (rng.randrange(len(ACCOUNTS)), rng.uniform(newest, oldest), rng.uniform(60, 3600))
        for _ in range(size)
    ]
    picker = random.Random(SEED + 1)
    order = list(range(size))
    picker.shuffle(order)
    n_due, n_replies = size // DUE_ONE_IN, size // REPLY_ONE_IN
    overdue = {
        index: (FOLLOW_UP + timedelta(seconds=picker.uniform(600, 20 * 3600))).total_seconds()
        for index in sorted(order[:n_due])
    }
    replies = {
        index: NOW - timedelta(seconds=picker.uniform(60, 55 * 60))
        for index in order[n_due : n_due + n_replies]
    }
    crowd = []
    for index, (account, ago, gap) in enumerate(base):
        if case == "due" and index in overdue:
            ago = overdue[index]
        first = NOW - timedelta(seconds=ago)
        crowd.append(
            Person(index, ACCOUNTS[account], first - timedelta(seconds=gap), first, replies.get(index))
        )
    return crowd


def _conversation(person: Person) -> tuple[str, str, str, str]:
    """The emulator's deterministic ids for the person's conversation with their account:
    profile URN, thread id, conversation URN, and the URN of its first message."""
    from airflow_provider_connectsafely.emulator.conversations import CONVERSATION_URN_PREFIX, thread_id
    from airflow_provider_connectsafely.emulator.profiles import profile_urn

    urn = profile_urn(person.profile_id)
    thread = thread_id(person.account, urn)
    first = "urn:li:msg_message:2-" + hashlib.sha256(f"{thread}:1".encode()).hexdigest()[:32]
    return urn, thread, CONVERSATION_URN_PREFIX + thread, first


# The columns filled, in order; the others stay NULL (or take their server default).
SEND_COLUMNS = (
    "dedupe_key", "state", "account", "recipient", "claim_token", "attempts", "retryable", "error",
    "recipient_urn", "response", "dag_id", "task_id", "run_id", "map_index", "created_at",
    "updated_at", "conversation_urn", "thread_id", "message_urn", "kind", "campaign",
)  # fmt: skip
ENROLLMENT_COLUMNS = (
    "campaign", "recipient", "account", "state", "step", "data", "conversation_urn", "enrolled_at",
    "first_sent_at", "last_sent_at", "updated_at",
)  # fmt: skip


def _ledger_rows(crowd: Iterable[Person]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The ``sends`` and ``enrollments`` rows after step 1 went to everyone, as the sequence
    writes them (claim, ``mark_sent`` with the API's answer, ``SequenceStore.advance``)."""
    sends, enrolled = [], []
    for p in crowd:
        urn, thread, conversation, message = _conversation(p)
        sent_at = p.first_sent_at
        answer = {
            "success": True,
            "message": "Message sent successfully",
            "recipientProfileUrn": urn,
            "threadId": thread,
            "conversationUrn": conversation,
            "sentMessage": {
                "messageUrn": message,
                "text": p.first_text,
                "sentAt": sent_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            },
        }
        run_id = "scheduled__" + sent_at.replace(minute=0, second=0, microsecond=0).isoformat()
        sends.append(
            (
                f"sequence:{CAMPAIGN}:1:{p.profile_id}", "sent", p.account, p.profile_id,
                str(uuid.UUID(int=p.index + 1)), 1, False, None, urn, json.dumps(answer),
                "agency_outreach", "sequence", run_id, -1, sent_at - timedelta(milliseconds=300),
                sent_at, conversation, thread, message, "message", f"sequence:{CAMPAIGN}",
            )
        )  # fmt: skip
        enrolled.append(
            (
                CAMPAIGN, p.profile_id, p.account, "active", 1, json.dumps(_row(p.index)),
                conversation, p.enrolled_at, sent_at, sent_at, sent_at,
            )
        )  # fmt: skip
    return sends, enrolled


# --- the children: fill, emulator, measure ------------------------------------------------------


def _postgres_url(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(os.environ["BENCH_PG_URL"]).set(database=database).render_as_string(hide_password=False)


def _postgres_admin(statement: str) -> None:
    """A statement that must run outside a transaction (CREATE / DROP DATABASE)."""
    from sqlalchemy import create_engine

    engine = create_engine(os.environ["BENCH_PG_URL"], isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _fill(args: argparse.Namespace) -> None:
    from airflow_provider_connectsafely.ledger.store import SendLedger

    crowd = people(args.size, args.case)
    sends, enrolled = _ledger_rows(crowd)
    watermarks = [(CAMPAIGN, account, NOW - WATERMARK_AGE) for account in ACCOUNTS]
    started = time.perf_counter()
    if args.backend == "sqlite":
        url = f"sqlite:///{args.template}"
    else:
        _postgres_admin(f'CREATE DATABASE "{args.template}"')
        url = _postgres_url(args.template)
    ledger = SendLedger.from_url(url)
    ledger.ensure_schema()
    if args.backend == "sqlite":
        _fill_sqlite(ledger, sends, enrolled, watermarks)
    else:
        _fill_postgres(ledger, sends, enrolled, watermarks)
    fill_s = time.perf_counter() - started
    _check_fill(ledger, args.size)
    ledger.close()
    size = os.path.getsize(args.template) if args.backend == "sqlite" else None
    Path(args.result).write_text(json.dumps({"fill_s": fill_s, "size_bytes": size}))


def _fill_sqlite(ledger: Any, sends: list[Any], enrolled: list[Any], watermarks: list[Any]) -> None:
    """Raw ``executemany``, each value bound through its column's own SQLAlchemy type; the
    counting triggers fire per row (cheap on SQLite)."""
    from airflow_provider_connectsafely.ledger.schema import enrollments, reply_watermarks
    from airflow_provider_connectsafely.ledger.schema import sends as sends_table

    dialect = ledger.engine.dialect
    with ledger.engine.begin() as conn:
        for table, columns, rows in (
            (sends_table, SEND_COLUMNS, sends),
            (enrollments, ENROLLMENT_COLUMNS, enrolled),
            (reply_watermarks, ("campaign", "account", "checked_until"), watermarks),
        ):
            bind = [table.c[name].type.bind_processor(dialect) for name in columns]
            insert = (
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            )
            for start in range(0, len(rows), 20_000):
                batch = [
                    tuple(
                        f(v) if f is not None and v is not None else v for f, v in zip(bind, row, strict=True)
                    )
                    for row in rows[start : start + 20_000]
                ]
                conn.exec_driver_sql(insert, batch)
    with ledger.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _fill_postgres(ledger: Any, sends: list[Any], enrolled: list[Any], watermarks: list[Any]) -> None:
    """``COPY`` with the counting trigger disabled (it would fire once per row), then the
    counts backfilled by one ``GROUP BY`` with the trigger's own keys, then ``VACUUM ANALYZE``."""
    raw = ledger.engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cursor:
            cursor.execute("ALTER TABLE connectsafely_sends DISABLE TRIGGER connectsafely_sends_count")
            for table, columns, rows in (
                ("connectsafely_sends", SEND_COLUMNS, sends),
                ("connectsafely_enrollments", ENROLLMENT_COLUMNS, enrolled),
                ("connectsafely_reply_watermarks", ("campaign", "account", "checked_until"), watermarks),
            ):
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            cursor.execute("ALTER TABLE connectsafely_sends ENABLE TRIGGER connectsafely_sends_count")
            cursor.execute(
                "INSERT INTO connectsafely_send_counts (day, account, campaign, kind, state, sends) "
                "SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), account, "
                "coalesce(campaign, ''), kind, state, count(*) FROM connectsafely_sends "
                "GROUP BY 1, 2, 3, 4, 5"
            )
            conn.commit()
            conn.autocommit = True
            for table in ("connectsafely_sends", "connectsafely_enrollments", "connectsafely_send_counts"):
                cursor.execute(f"VACUUM ANALYZE {table}")
    finally:
        raw.close()


def _check_fill(ledger: Any, size: int) -> None:
    with ledger.engine.connect() as conn:
        counted = conn.exec_driver_sql("SELECT sum(sends) FROM connectsafely_send_counts").scalar()
        enrolled = conn.exec_driver_sql("SELECT count(*) FROM connectsafely_enrollments").scalar()
    if int(counted or 0) != size or int(enrolled or 0) != size:
        raise SystemExit(f"fill: {counted} counted sends and {enrolled} enrolments, expected {size}")


def _serve_emulator(args: argparse.Namespace) -> None:
    """The emulator, in its own process, holding every person's conversation (step 1, and
    the replies since the last run); its clock is NOW + (time.time() - epoch)."""
    from airflow_provider_connectsafely.emulator import EmulatorServer
    from airflow_provider_connectsafely.emulator.profiles import profile_urn

    epoch = float(args.epoch)
    server = EmulatorServer(
        api_key=API_KEY,
        daily_limit=10**9,
        accounts=list(ACCOUNTS),
        clock=lambda: NOW + timedelta(seconds=time.time() - epoch),
    )
    store = server.state.conversations
    crowd = people(args.size, args.case)
    for p in crowd:
        store.post(
            p.account, profile_urn(p.profile_id), p.profile_id, p.first_text, p.first_sent_at, by_owner=True
        )
    for p in crowd:
        if p.reply_at is not None:
            text = "Thanks, sounds interesting: let's talk next week"
            store.post(p.account, profile_urn(p.profile_id), p.profile_id, text, p.reply_at, by_owner=False)
    del crowd
    gc.collect()
    with server:
        print(f"ConnectSafely emulator listening on {server.url}", flush=True)
        sys.stdin.read()


#: What a task process has imported before ``execute`` (Airflow's task runner, the operator's
#: module) and what the run imports on first use; imported before the measurement.
WARM_IMPORTS = (
    "airflow.sdk",
    "airflow.configuration",
    "jinja2",
    "requests",
    "sqlalchemy",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
    "psycopg",
    "tenacity",
    "airflow_provider_connectsafely.operators.sequence",
    "airflow_provider_connectsafely.outreach.sequence",
    "airflow_provider_connectsafely.outreach.accounts",
    "airflow_provider_connectsafely.outreach.delivery",
    "airflow_provider_connectsafely.outreach.invitations",
    "airflow_provider_connectsafely.outreach.recipient_windows",
    "airflow_provider_connectsafely.ledger.store",
    "airflow_provider_connectsafely.ledger.sequences",
    "airflow_provider_connectsafely.ledger.locate",
    "airflow_provider_connectsafely.ledger.migrations",
    "airflow_provider_connectsafely.hooks.connectsafely",
    "airflow_provider_connectsafely.api.client",
    "airflow_provider_connectsafely.api.conversation_send",
)


def _warm_imports() -> None:
    for module in WARM_IMPORTS:
        with contextlib.suppress(ImportError):  # e.g. no psycopg: the run imports what it needs
            importlib.import_module(module)


def _time_phases() -> dict[str, list[float]]:
    """Wrap the ``PHASES`` functions (the originals still run) to record each call's duration."""
    spent: dict[str, list[float]] = {}
    for module_name, owner_name, name in PHASES:
        module = importlib.import_module(f"airflow_provider_connectsafely.{module_name}")
        owner = getattr(module, owner_name) if owner_name else module
        original = getattr(owner, name, None)
        if original is None:  # renamed since: not timed
            continue
        label = f"{owner_name}.{name}" if owner_name else name
        setattr(owner, name, _timed(original, spent.setdefault(label, [])))
    return spent


def _timed(original: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - start)

    return timed


def _count_statements() -> Counter[str]:
    """SQL statements executed, by their first word."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seen: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen[statement.lstrip().split(None, 1)[0].upper()] += 1

    event.listen(Engine, "before_cursor_execute", count)
    return seen


def _operator(recipients: list[dict[str, str]], epoch: float) -> Any:
    """The sequence operator, its ledger on the scenario's clock (``SendLedger.clock``)."""
    from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

    def clock() -> datetime:
        return NOW + timedelta(seconds=time.time() - epoch)

    class ScenarioClockSequenceOperator(LinkedInSequenceOperator):
        def _ledger(self) -> Any:
            ledger = super()._ledger()
            if ledger is not None:
                ledger.clock = clock
            return ledger

    return ScenarioClockSequenceOperator(
        task_id="sequence",
        campaign=CAMPAIGN,
        recipients=recipients,
        steps=[SequenceStep(text, wait=wait) if wait else SequenceStep(text) for text, wait in STEPS],
        account_ids=list(ACCOUNTS),
        stop_on_reply=True,
        ledger_conn_id="bench_ledger",
    )


def _measure(args: argparse.Namespace) -> None:
    if args.backend == "sqlite":
        shutil.copyfile(args.template, args.work)
    else:
        _postgres_admin(f'CREATE DATABASE "{args.work}" TEMPLATE "{args.template}"')
    _warm_imports()
    phases = _time_phases()
    statements = _count_statements()
    gc.collect()
    baseline = proc_status_mib("VmRSS")["VmRSS"]
    recipients = [_row(index) for index in range(args.size)]
    operator = _operator(recipients, float(args.epoch))
    ti = SimpleNamespace(
        dag_id="agency_outreach", task_id="sequence", run_id=RUN_ID, map_index=-1, try_number=1
    )
    ti.xcom_push = lambda key, value: None
    context: Any = {"ti": ti, "run_id": RUN_ID}
    before = emulator_call(args.emulator, "GET", "/_emulator/counts")
    gc.collect()
    input_rss = proc_status_mib("VmRSS")["VmRSS"]
    reset = reset_peak_rss()
    statements.clear()
    profile_dir = os.environ.get("BENCH_PROFILE_DIR")
    profiler = cProfile.Profile() if profile_dir else None
    cpu = time.process_time()
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result = operator.execute(context)
    if profiler is not None:
        profiler.disable()
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    if profiler is not None and profile_dir:
        name = f"{args.backend}-{args.case}-{Path(args.result).stem}.prof"
        profiler.dump_stats(str(Path(profile_dir) / name))
    peak = proc_status_mib("VmHWM")["VmHWM"]
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    done_statements = dict(statements)
    after = emulator_call(args.emulator, "GET", "/_emulator/counts")
    calls = {key: n - before.get(key, 0) for key, n in after.items() if n - before.get(key, 0)}
    records = emulator_call(args.emulator, "GET", "/_emulator/requests")["requests"]
    reads = Counter(
        str((r.get("query") or {}).get("accountId"))
        for r in records
        if r["method"] == "GET" and r["path"].startswith("/linkedin/messaging/recent-messages")
    )
    _check(result["summary"], args)
    figures = {
        "wall_s": wall,
        "cpu_s": cpu,
        "baseline_mib": baseline,
        "input_mib": input_rss,
        "peak_mib": peak if reset else maxrss,
        "peak_was_reset": reset,
        "maxrss_mib": maxrss,
        "calls": calls,
        "reads_per_account": dict(reads),
        "statements": done_statements,
        "phases": phases,
        "summary": result["summary"],
        "result_json_mib": len(json.dumps(result, default=str)) / 2**20,
    }
    Path(args.result).write_text(json.dumps(figures))
    if args.backend == "postgresql":
        _postgres_admin(f'DROP DATABASE "{args.work}" WITH (FORCE)')


def _check(summary: dict[str, Any], args: argparse.Namespace) -> None:
    """The run did what the scenario says, or the benchmark fails."""
    expected = {
        "total": args.size,
        "enrolled": 0,
        "sent": args.size // DUE_ONE_IN if args.case == "due" else 0,
        "replied": args.size // REPLY_ONE_IN,
        "failed": 0,
        "unknown": 0,
    }
    wrong = {key: summary.get(key) for key, value in expected.items() if summary.get(key) != value}
    if wrong:
        raise SystemExit(f"sequence run: {wrong}, expected {expected}")


def _child(args: argparse.Namespace) -> None:
    {"fill": _fill, "emulator": _serve_emulator, "measure": _measure}[args.mode](args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sequence_scale")
    parser.add_argument("--mode", choices=("fill", "emulator", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=tuple(BACKENDS), help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=tuple(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=FULL_SIZE, help=argparse.SUPPRESS)
    parser.add_argument("--template", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--emulator", help=argparse.SUPPRESS)
    parser.add_argument("--epoch", help=argparse.SUPPRESS)
    return benchmark_main(NAME, parser, _child, argv)


if __name__ == "__main__":
    sys.exit(main())
