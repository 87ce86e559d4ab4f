"""The soak harness (issue 18): a simulated month of the three DAGs against the emulator and a
PostgreSQL ledger, under seeded faults, with the invariants checked from the emulator's record.

Airflow is imported once here; each hourly tick runs in a process forked from this one
(real isolation: a SIGKILL is a real one), which travels to the simulated time. See
``docs/testing.md`` (the soak run) for how to run it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from multiprocessing.sharedctypes import RawValue
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
for _path in (str(HERE), str(TESTS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from population import ACCOUNTS, RECONTACT_AFTER, START, WINDOW, Population, draw  # noqa: E402
from world import kind_of  # noqa: E402

API_KEY = "soak-key-5be1"
_real_time = time.time


@dataclass
class Tick:
    """One hourly tick: when it started (simulated), what ran, how it ended."""

    number: int
    at: datetime
    dags: list[str]
    exit: str = ""
    results: dict[str, Any] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    wall: float = 0.0


@dataclass
class SoakRun:
    """A soak run of ``days`` simulated days from ``seed``.

    :param defect: a deliberate defect to inject in every worker (tests/soak/defects.py).
    :param faults: inject the seeded faults (False: a quiet month).
    """

    seed: int
    days: int
    out: Path
    defect: str | None = None
    faults: bool = True
    hours: int = 0
    ticks: list[Tick] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self.population: Population = draw(self.seed)
        self.offset = RawValue("d", 0.0)  # simulated minus real time, shared with the workers

    # -- the simulated clock ------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.fromtimestamp(_real_time() + self.offset.value, timezone.utc)

    def set_now(self, moment: datetime) -> None:
        self.offset.value = moment.timestamp() - _real_time()

    # -- setup --------------------------------------------------------------------------------

    def _environment(self, emulator_url: str, ledger_url: str) -> None:
        home = self.out / "airflow"
        home.mkdir(exist_ok=True)
        population_file = self.out / "population.json"
        self.population.write(population_file)
        crm = self.out / "crm.sqlite"
        self.population.write_crm(crm)
        os.environ.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
                "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT": json.dumps(
                    {"conn_type": "connectsafely", "host": emulator_url, "password": API_KEY}
                ),
                "AIRFLOW_CONN_SOAK_LEDGER": json.dumps(
                    {"conn_type": "postgres", "extra": {"sqlalchemy_url": ledger_url}}
                ),
                "AIRFLOW_CONN_SOAK_CRM": json.dumps({"conn_type": "sqlite", "host": str(crm)}),
                "SOAK_POPULATION": str(population_file),
                "SOAK_KILLED_AT": str(self.out / "killed-at.txt"),
            }
        )
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            capture_output=True,
            env=os.environ.copy(),
        )

    def _load_dags(self) -> dict[str, Any]:
        import importlib.util

        path = HERE / "dags" / "soak_dags.py"
        spec = importlib.util.spec_from_file_location("soak_dags", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return {d.dag_id: d for d in (module.sequence_dag, module.batch_dag, module.single_dag)}

    # -- the month ----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        from helpers.pg_cluster import PgCluster

        from airflow_provider_connectsafely.emulator import EmulatorServer

        started = time.monotonic()
        self.set_now(START)
        cluster = PgCluster("soak")
        try:
            cluster.start()
            ledger_url = cluster.create_database("soak_ledger")
            connected = [p.profile_id for p in self.population.people if p.connected]
            with EmulatorServer(
                api_key=API_KEY,
                accounts=list(ACCOUNTS),
                clock=self.now,
                connected=connected,
                rate_limit=60,
                rate_window=60,
            ) as emulator:
                self._environment(emulator.url, ledger_url)
                dags = self._load_dags()
                _prewarm_airflow()
                self._month(emulator, dags, cluster)
                from invariants import check

                report = check(self, emulator, ledger_url)
                report["settled"] = _settle(ledger_url, report)
        finally:
            cluster.destroy()
        report["wall_seconds"] = round(time.monotonic() - started, 1)
        return report

    def _month(self, emulator: Any, dags: dict[str, Any], cluster: Any) -> None:
        from faults import FaultPlan
        from world import World

        self.world = World(self.population)
        self.plan = FaultPlan(self.seed, self.hours or self.days * 24)
        self.fault_record = self.plan.record
        self._seen = 0
        self._carry: dict[str, Any] = {}
        singles = iter(self.population.group("single"))
        end = START + timedelta(hours=self.hours or self.days * 24)
        since = START
        number = 0
        while True:
            at = START + timedelta(hours=number)
            if at >= end:
                break
            if self.now() > at:  # the previous tick overran its hour: start when it ended
                at = self.now()
            self.set_now(at)
            self.world.play(emulator, at, since)
            plan_dags: list[tuple[str, dict[str, Any]]] = []
            if _open_somewhere(at):
                plan_dags.append(("soak_sequence", {}))
                plan_dags.append(("soak_batch", {}))
                person = self.world.recontact(at, RECONTACT_AFTER, number) or next(singles, None)
                if person is not None:
                    plan_dags.append(("soak_single", {"recipient": person.profile_id, "tz": person.timezone}))
            tick = Tick(number, at, [d for d, _ in plan_dags])
            faults = self.plan.for_tick(number, (at - START).days)
            if plan_dags:
                if not self.faults:
                    faults = {"queue": []}
                # a kill or a restart planned for a tick that ran nothing or ended first, and a
                # send fault whose account sent nothing, move on to the next tick that runs
                for carried in ("kill_after", "kill_after_answer", "pg"):
                    if self._carry.get(carried) is not None and faults.get(carried) is None:
                        faults[carried] = self._carry.pop(carried)
                faults["queue"] = [*self._carry.pop("queue", []), *faults["queue"]]
                self._tick(tick, dags, plan_dags, faults, emulator, cluster)
            elif faults.get("pg"):
                self._carry["pg"] = faults["pg"]
            self.ticks.append(tick)
            since = self.now()
            number += 1

    def _tick(
        self,
        tick: Tick,
        dags: dict[str, Any],
        plan_dags: list[tuple[str, dict[str, Any]]],
        faults: dict[str, Any],
        emulator: Any,
        cluster: Any,
    ) -> None:
        """Queue the tick's faults, run its worker, and record what the faults did."""
        import threading

        record = self.plan.record
        for _name, fault, params, count, match, _ambiguous in faults["queue"]:
            emulator.inject(fault, count=count, match=match, **params)
        if faults.get("pg") == "between":
            cluster.stop()
            cluster.start()
            record.append({"at": tick.at, "name": "PostgreSQL restarted", "effect": "between two ticks"})
        timer = None
        if faults.get("pg") == "during":

            def restart() -> None:
                cluster.stop()
                cluster.start()

            timer = threading.Timer(0.4, restart)
        plan = {
            "tick": tick.number,
            "at": tick.at.isoformat(),
            "dags": plan_dags,
            "defect": self.defect,
            "kill_after_answer": faults.get("kill_after_answer"),
        }
        self._fork(tick, dags, plan, faults.get("kill_after"), timer)
        if timer is not None:
            timer.join()
            record.append(
                {
                    "at": tick.at,
                    "name": "PostgreSQL restarted",
                    "effect": f"while the worker ran ({tick.exit})",
                }
            )
        pending = emulator.state.pending_faults()
        emulator.state.clear_faults()
        self._carry["queue"] = [
            queued
            for queued in faults["queue"]
            if queued[3] == 1
            and any(p["fault"] == queued[1] and p.get("match") == queued[4] for p in pending)
        ]
        requests = emulator.requests()[self._seen :]
        self._seen += len(requests)
        conversations = {
            m["conversationUrn"]: m["recipientProfileId"]
            for m in emulator.messages()
            if m.get("conversationUrn")
        }
        self.plan.read_back(tick.at, requests, conversations, faults["queue"])
        killed_at = Path(os.environ["SOAK_KILLED_AT"])
        if killed_at.exists():
            key = killed_at.read_text()
            killed_at.unlink()
            kind, person = _kind_and_person(key)
            record.append(
                {
                    "at": tick.at,
                    "name": "worker SIGKILLed between the API's answer and the ledger's write",
                    "ambiguous": True,
                    "kind": kind,
                    "person": person,
                    "effect": f"{key} delivered, not recorded",
                }
            )
        elif faults.get("kill_after_answer") is not None:
            self._carry["kill_after_answer"] = faults["kill_after_answer"]
        inside_fired = any(f.get("at") == tick.at and "answer" in f["name"] for f in record)
        if faults.get("kill_after") is not None and (inside_fired or not tick.exit.startswith("killed")):
            self._carry["kill_after"] = faults["kill_after"]  # it did not kill: next time
        elif faults.get("kill_after") is not None:
            sends = [
                r for r in requests if r["method"] == "POST" and r["path"].endswith(("/send", "/connect"))
            ]
            last = sends[-1] if sends else None
            body = (last or {}).get("body") or {}
            person = (
                body.get("recipientProfileId")
                or body.get("profileId")
                or conversations.get(body.get("conversationUrn", ""), "")
            )
            kind = (
                "connect" if last and last["path"].endswith("/connect") else kind_of(body.get("message", ""))
            )
            record.append(
                {
                    "at": tick.at,
                    "name": f"worker SIGKILLed after {faults['kill_after']} s",
                    "ambiguous": last is not None,
                    "kind": kind,
                    "person": person,
                    "effect": f"last send before the kill: {kind} to {person or 'nobody'}",
                }
            )

    def _fork(
        self, tick: Tick, dags: dict[str, Any], plan: dict[str, Any], kill_after: float | None, timer: Any
    ) -> None:
        from worker import run_tick

        out = self.out / "tick.json"
        out.unlink(missing_ok=True)
        began = time.monotonic()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            run_tick(dags, plan, self.offset, out, self.out / "workers.log")
        if timer is not None:
            timer.start()
        if kill_after is None:
            _, status = os.waitpid(pid, 0)
        else:
            deadline = began + kill_after
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if time.monotonic() >= deadline:
                    os.kill(pid, signal.SIGKILL)
                    _, status = os.waitpid(pid, 0)
                    break
                time.sleep(0.01)
        tick.wall = time.monotonic() - began
        if os.WIFSIGNALED(status):
            tick.exit = f"killed by signal {os.WTERMSIG(status)}"
        else:
            tick.exit = f"exit {os.WEXITSTATUS(status)}"
            if out.exists():
                tick.results = json.loads(out.read_text())


def _settle(ledger_url: str, report: dict[str, Any]) -> list[tuple[str, str]]:
    """Settle every send left unknown as a person would after looking at LinkedIn: ``sent``
    when the emulator delivered it, else ``failed`` (the ledger's own ``resolve``)."""
    from airflow_provider_connectsafely.ledger.store import SendLedger

    received = {(s.kind, s.person) for s in report["sent"]}
    settled = []
    ledger = SendLedger.from_url(ledger_url)
    try:
        for row in report["ledger"]["sends"]:
            if row["state"] in ("unknown", "pending"):
                state = "sent" if _kind_and_person(row["dedupe_key"]) in received else "failed"
                ledger.resolve(
                    row["dedupe_key"], state, "checked against the emulator's record", settled_by="soak"
                )
                settled.append((row["dedupe_key"], state))
    finally:
        ledger.close()
    return settled


def _kind_and_person(key: str) -> tuple[str, str]:
    """(kind, person) of a ledger key, as the invariants name them."""
    person = key.rsplit(":", 1)[-1]
    if key.startswith("sequence:"):
        return {"1": "connect", "2": "step2", "3": "step3"}[key.split(":")[-2]], person
    return ("batch" if key.startswith("campaign:") else "single"), person


def _prewarm_airflow() -> None:
    """Build Airflow's in-process execution API once, here, so that no worker pays for it:
    its first request generates every API version's routes (seconds of deep copies)."""
    from airflow.sdk.execution_time.supervisor import in_process_api_server

    app = in_process_api_server().app
    for candidate in [app, *(getattr(route, "app", None) for route in getattr(app, "routes", []))]:
        initialize = getattr(candidate, "_cadwyn_initialize", None)
        if initialize is not None and not candidate._cadwyn_initialized:
            initialize()


def _open_somewhere(at: datetime) -> bool:
    """Whether the sending window is open now in any of the population's time zones: hours
    when it is open nowhere run no DAG (nothing can be sent, and replies wait for the next)."""
    from population import ZONES

    from airflow_provider_connectsafely.outreach.windows import SendWindow

    window = SendWindow.parse(WINDOW)
    return any(window.is_open(at, zone) for zone in ZONES)


def replay_command(days: int, seed: int, defect: str | None = None) -> str:
    """The command that replays a run exactly."""
    command = f"make soak SOAK_DAYS={days} SOAK_SEED={seed}"
    return command + (f" SOAK_ARGS='--inject-defect {defect}'" if defect else "")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--hours", type=int, default=0, help="run this many hours instead (development)")
    parser.add_argument("--seed", type=int, default=None, help="default: a random one, printed")
    parser.add_argument("--out", type=Path, default=None, help="the run's folder (default: a temporary one)")
    parser.add_argument("--report", type=Path, default=None, help="write the Markdown report here")
    parser.add_argument("--inject-defect", default=None, help="a deliberate defect (tests/soak/defects.py)")
    parser.add_argument("--no-faults", action="store_true", help="a quiet month: no injected faults")
    args = parser.parse_args(argv)
    # SIGTERM ends the run through its cleanup (the PostgreSQL cluster is stopped and deleted)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    out = args.out or Path(tempfile.mkdtemp(prefix="connectsafely-soak-"))
    print(f"Soak run: {args.days} days, seed {seed}, folder {out}", flush=True)
    soak = SoakRun(
        seed, args.days, out, defect=args.inject_defect, faults=not args.no_faults, hours=args.hours
    )
    report = soak.run()
    from report import render

    text = render(soak, report)
    (out / "report.md").write_text(text)
    if args.report:
        args.report.write_text(text)
    print(text)
    if report["violations"]:
        replay = replay_command(args.days, seed, args.inject_defect)
        print(f"SOAK FAILED: {len(report['violations'])} invariant violations. Seed {seed}; replay: {replay}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
