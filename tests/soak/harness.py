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

from population import ACCOUNTS, START, WINDOW, Population, draw  # noqa: E402

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
        finally:
            cluster.destroy()
        report["wall_seconds"] = round(time.monotonic() - started, 1)
        return report

    def _month(self, emulator: Any, dags: dict[str, Any], cluster: Any) -> None:
        from world import World

        self.world = World(self.population)
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
                person = next(singles, None)
                if person is not None:
                    plan_dags.append(("soak_single", {"recipient": person.profile_id, "tz": person.timezone}))
            tick = Tick(number, at, [d for d, _ in plan_dags])
            if plan_dags:
                self._fork(
                    tick,
                    dags,
                    {"tick": number, "at": at.isoformat(), "dags": plan_dags, "defect": self.defect},
                )
            self.ticks.append(tick)
            since = self.now()
            number += 1

    def _fork(self, tick: Tick, dags: dict[str, Any], plan: dict[str, Any]) -> None:
        from worker import run_tick

        out = self.out / "tick.json"
        out.unlink(missing_ok=True)
        began = time.monotonic()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            run_tick(dags, plan, self.offset, out, self.out / "workers.log")
        _, status = os.waitpid(pid, 0)
        tick.wall = time.monotonic() - began
        if os.WIFSIGNALED(status):
            tick.exit = f"killed by signal {os.WTERMSIG(status)}"
        else:
            tick.exit = f"exit {os.WEXITSTATUS(status)}"
            if out.exists():
                tick.results = json.loads(out.read_text())


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
