"""Several worker processes, one PostgreSQL ledger, overlapping recipients: one message each
(batches, and sequence runs). And a batch killed mid-run, run again: no duplicates,
everyone accounted for."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

from helpers.connections import connection_json
from helpers.paths import REPO

WORKER = REPO / "tests" / "helpers" / "batch_worker.py"


def start_worker(config: dict, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def result_of(proc: subprocess.Popen, timeout: float = 120) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def test_parallel_workers_never_send_twice(emulator, postgres_url, monkeypatch):
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    env = {
        **os.environ,
        "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT": connection_json(emulator.url),
        "AIRFLOW_CONN_LEDGER_PG": json.dumps(
            {
                "conn_type": "postgres",
                "host": url.host,
                "port": url.port,
                "login": url.username,
                "password": url.password,
                "schema": url.database,
            }
        ),
    }
    everyone = [f"person-{n:02d}" for n in range(30)]
    workers = [
        start_worker(
            {
                "recipients": everyone[start : start + 15],
                "campaign": "parallel",
                "run_id": f"run-{index}",
                "ledger_conn_id": "ledger_pg",
            },
            env,
        )
        for index, start in enumerate((0, 5, 10, 15))
    ]
    results = [result_of(worker) for worker in workers]

    delivered = Counter(m["recipientProfileId"] for m in emulator.messages())
    assert set(delivered) == set(everyone)
    assert max(delivered.values()) == 1
    sent = sum(r["summary"]["sent"] for r in results)
    assert sent == len(everyone)
    statuses = Counter(o["status"] for r in results for o in r["outcomes"])
    assert statuses["failed"] == statuses["unknown"] == 0
    # The others were already sent, or being sent by another worker at that moment.
    assert statuses["sent"] + statuses["skipped"] + statuses["in_flight"] == 60


def test_killed_batch_run_again_sends_no_duplicates(emulator, tmp_path, monkeypatch):
    env = {
        **os.environ,
        "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT": connection_json(emulator.url),
        "AIRFLOW_CONN_LEDGER_FILE": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "l.db")}),
    }
    everyone = [f"crash-{n:02d}" for n in range(12)]
    config = {
        "recipients": everyone,
        "campaign": "crash",
        "run_id": "crash-run",
        "ledger_conn_id": "ledger_file",
        "min_interval": 0.15,
    }
    emulator.inject("slow", delay=5, match={"recipientProfileId": "crash-04"})
    first = start_worker(config, env)
    deadline = time.monotonic() + 60
    while not any(r["body"].get("recipientProfileId") == "crash-04" for r in emulator.requests()):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)  # dies while crash-04's send is in flight
    first.wait()

    second = result_of(start_worker({**config, "min_interval": 0}, env))
    statuses = {o["recipient"]: o["status"] for o in second["outcomes"]}
    assert set(statuses) == set(everyone)  # everyone accounted for
    assert statuses["crash-04"] == "unknown"  # in flight when killed: not sent again
    assert all(statuses[f"crash-{n:02d}"] == "sent" for n in range(12) if n != 4)

    delivered = Counter(m["recipientProfileId"] for m in emulator.messages())
    assert max(delivered.values()) == 1
    assert set(delivered) == set(everyone)  # crash-04 was in fact delivered (the slow fault delivers)


def test_parallel_sequence_runs_send_each_step_once(emulator, postgres_url):
    env = {
        **os.environ,
        "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT": connection_json(emulator.url),
        "AIRFLOW_CONN_LEDGER_SEQ": json.dumps(
            {"conn_type": "postgres", "extra": {"sqlalchemy_url": postgres_url}}
        ),
    }
    everyone = [f"lead-{n:02d}" for n in range(12)]
    config = {
        "campaign": "seq",
        "steps": ["Hello {{ recipient.recipient_profile_id }}"],
        "ledger_conn_id": "ledger_seq",
    }
    workers = [
        start_worker({**config, "recipients": everyone[start : start + 8], "run_id": f"run-{start}"}, env)
        for start in (0, 2, 4)
    ]
    results = [result_of(worker) for worker in workers]
    sent = Counter(m["recipientProfileId"] for m in emulator.messages())
    assert sorted(sent) == everyone and set(sent.values()) == {1}
    assert sum(r["summary"]["sent"] for r in results) == len(everyone)
