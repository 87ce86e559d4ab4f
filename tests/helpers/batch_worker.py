"""Runs one batch send in its own process, as a worker would (used by the concurrency and
crash tests). Arguments: one JSON object; the result JSON goes to stdout."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace
from typing import Any


def main() -> None:
    config = json.loads(sys.argv[1])
    from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageBatchOperator

    if "steps" in config:  # a sequence run instead of a batch
        from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator, SequenceStep

        op: Any = LinkedInSequenceOperator(
            task_id=config.get("task_id", "sequence"),
            recipients=[{"recipient_profile_id": r} for r in config["recipients"]],
            campaign=config["campaign"],
            steps=[SequenceStep(message=text) for text in config["steps"]],
            ledger_conn_id=config.get("ledger_conn_id"),
            daily_limit=0,
        )
        return _execute(op, config)
    op = SendLinkedInMessageBatchOperator(
        task_id=config.get("task_id", "batch"),
        recipients=config["recipients"],
        message="Hello {{ recipient.recipient_profile_id }}",
        campaign=config["campaign"],
        ledger_conn_id=config.get("ledger_conn_id"),
        min_interval=config.get("min_interval", 0),
        jitter=0,
        daily_limit=0,
        max_failures=len(config["recipients"]),
        progress_every=0,
    )
    _execute(op, config)


def _execute(op: Any, config: dict) -> None:
    ti = SimpleNamespace(
        dag_id="workers", task_id=op.task_id, run_id=config["run_id"], map_index=-1, try_number=1
    )
    ti.xcom_push = lambda key, value: None
    result = op.execute({"ti": ti, "run_id": config["run_id"]})
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
