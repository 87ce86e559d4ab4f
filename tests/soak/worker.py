"""One hourly tick of a soak run, in a process forked from the harness (tests/soak).

The child travels to the simulated time (time-machine, ticking), so Airflow, the operators
and the ledger read the same clock as the emulator; a wait of the provider (a 429's reset, a
retry's back-off) moves the shared simulated clock instead of sleeping. It runs the DAGs due
this tick with ``dag.test()`` and writes what each task ended as. A planned crash SIGKILLs it
from inside (between the API's answer and the ledger's write); the harness kills it from
outside at random moments.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from defects import inject_defect

_REAL_SLEEP = time.sleep
_SHIFTING = ("airflow_provider_connectsafely", "tenacity")


def run_tick(dags: dict[str, Any], plan: dict[str, Any], shared_offset: Any, out: Path, log: Path) -> None:
    """The child's whole life: never returns (``os._exit``)."""
    code = 0
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        print(f"\n===== tick {plan['tick']} at {plan['at']} =====", flush=True)
        if os.environ.get("SOAK_PROFILE"):
            import cProfile

            profile = cProfile.Profile()
            results = profile.runcall(_work, dags, plan, shared_offset)
            profile.dump_stats(os.environ["SOAK_PROFILE"] + f".{plan['tick']}")
        else:
            results = _work(dags, plan, shared_offset)
        out.write_text(json.dumps(results, default=str))
    except BaseException:
        traceback.print_exc()
        code = 3
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _work(dags: dict[str, Any], plan: dict[str, Any], shared_offset: Any) -> dict[str, Any]:
    import time_machine

    now = datetime.fromtimestamp(time.time() + shared_offset.value, timezone.utc)
    traveller = time_machine.travel(now, tick=True)
    coordinates = traveller.start()

    def sleep(seconds: float) -> None:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith(_SHIFTING) and seconds > 0:
            shared_offset.value += seconds  # the emulator's clock moves with ours
            coordinates.shift(seconds)
        else:
            _REAL_SLEEP(seconds)

    time.sleep = sleep
    if plan.get("defect"):
        inject_defect(plan["defect"])
    if plan.get("kill_after_answer") is not None:
        _kill_between_answer_and_record(int(plan["kill_after_answer"]))
    results: dict[str, Any] = {}
    for dag_id, conf in plan["dags"]:
        dag_run = dags[dag_id].test(run_conf=conf)
        results[dag_id] = _task_result(dag_run)
    return results


def _kill_between_answer_and_record(after: int) -> None:
    """SIGKILL this worker when the ledger is about to record the ``after``-th answer of the
    API (a message or a connection request): delivered, and the ledger does not know."""
    from airflow_provider_connectsafely.ledger.store import SendLedger

    original = SendLedger.mark_sent
    seen = {"n": 0}

    def mark_sent(self: Any, dedupe_key: str, token: str, response: dict[str, Any]) -> None:
        seen["n"] += 1
        if seen["n"] >= after:
            print(f"SOAK: killing the worker before recording {dedupe_key}", flush=True)
            Path(os.environ["SOAK_KILLED_AT"]).write_text(dedupe_key)
            os.kill(os.getpid(), signal.SIGKILL)
        original(self, dedupe_key, token, response)

    SendLedger.mark_sent = mark_sent  # type: ignore[method-assign]


def _task_result(dag_run: Any) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        xcom = {
            x.task_id: x.value
            for x in session.query(XComModel).filter_by(
                dag_id=dag_run.dag_id, run_id=dag_run.run_id, key="return_value"
            )
        }
    [ti] = dag_run.get_task_instances()
    value = xcom.get(ti.task_id)
    summary = value.get("summary") if isinstance(value, dict) else None
    status = value.get("status") if isinstance(value, dict) else None  # a single send's outcome
    return {"state": str(ti.state), "summary": summary, "status": status}
