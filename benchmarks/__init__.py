"""Benchmarks of airflow-provider-connectsafely against what users would otherwise pick.

- ``run.py``: the runner (``python -m benchmarks [--quick]``, ``make bench``): table + results.md.
- ``harness.py``: results, statistics, machine facts, child processes, the loopback server,
  the emulator in its own process, a private throw-away PostgreSQL, /proc memory figures.
- ``loopback_server.py``: a minimal stdlib HTTP/1.1 keep-alive server (fixed 200 JSON).
- ``import_cost.py``: 1. import cost of the operator module on DAG parsing.
- ``send_overhead.py``: 2. per-send overhead of the hook against raw requests and HttpHook.
- ``batch_vs_mapped.py``: 3. one batch task against one mapped task instance per recipient.
- ``ledger_scale.py``: 4. the ledger's bulk dedupe check at 1,000,000 rows, SQLite and PostgreSQL.
- ``dry_run_memory.py``: 5. peak memory and time of a 100,000-recipient dry run.
- ``sequence_scale.py``: 10. one scheduled sequence run with 100,000 enrolments over 20 accounts
  (nothing due, and 1% due): time, peak memory and API calls, SQLite and PostgreSQL.

Nothing here is part of the installed package, and no test asserts on timings.
"""
