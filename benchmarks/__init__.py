"""Benchmarks of airflow-provider-connectsafely against what users would otherwise pick.

- ``run.py``: the runner (``python -m benchmarks [--quick]``, ``make bench``): table + results.md.
- ``harness.py``: results, statistics, machine facts, child processes, the loopback server.
- ``loopback_server.py``: a minimal stdlib HTTP/1.1 keep-alive server (fixed 200 JSON).
- ``import_cost.py``: 1. import cost of the operator module on DAG parsing.
- ``send_overhead.py``: 2. per-send overhead of the hook against raw requests and HttpHook.
- Benchmarks 3-5 (batch vs mapped tasks, ledger at scale, dry-run memory) are listed in
  ``run.PLANNED`` until the features they measure exist.

Nothing here is part of the installed package, and no test asserts on timings.
"""
