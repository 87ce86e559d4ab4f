"""Benchmark 9: relationship reads of a sequence waiting for connection requests to be accepted.

A message step after a connect step waits until the invitation is accepted, and the API
offers no listing of accepted invitations: the only way to know is
``GET /linkedin/relationship/{profileId}``, one person per call. An hourly sequence that
asked about every pending invitation on every run would make 24 calls per person per day.

1,000 people are invited at the same moment; 35% accept at a random time within 7 days, the
rest never do (``give_up_after`` is 21 days). The sequence runs every hour for 22 days. Each
run asks the real :class:`~airflow_provider_connectsafely.outreach.invitations.Invitations`
about every person whose message is due, with a relationship reader that counts calls and
answers from the simulated acceptance times (no HTTP: the count is what would reach the API).

- **ours**: reads spaced by a quarter of the invitation's age, at most a day apart;
- **every run**: one read per pending person per run.

Reported: relationship calls in total, and how late an acceptance is noticed (median and
worst, in hours). Deterministic (a seeded random generator); one sample.

Run alone: ``python -m benchmarks.connect_acceptance [--quick]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from benchmarks.harness import Result, Row, benchmark_main

NAME = "connect_acceptance"
TITLE = "Connect steps: acceptance reads"
PEOPLE, QUICK_PEOPLE = 1_000, 200
ACCEPTING = 0.35
DAYS = 22
GIVE_UP = timedelta(days=21)
INVITED = datetime(2030, 3, 4, 9, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


@dataclass
class Way:
    name: str
    calls: int
    delays_h: list[float]
    gave_up: int


def simulate(people: int, spaced: bool) -> Way:
    from airflow_provider_connectsafely.ledger.sequences import Enrollment
    from airflow_provider_connectsafely.outreach.invitations import GAVE_UP, Invitations
    from airflow_provider_connectsafely.outreach.steps import SequenceStep

    rng = random.Random(7)
    accepts = {
        f"p{n}": INVITED + timedelta(seconds=rng.uniform(0, 7 * 86_400)) if rng.random() < ACCEPTING else None
        for n in range(people)
    }
    clock = SimpleNamespace(now=INVITED)
    calls = 0

    def relationship(recipient: str, _account: str | None) -> SimpleNamespace:
        nonlocal calls
        calls += 1
        accepted = accepts[recipient]
        return SimpleNamespace(connected=accepted is not None and clock.now >= accepted)

    def checked(enrollment: Enrollment, at: datetime) -> None:
        if spaced:
            enrollment.checked_at = at

    invitations = Invitations(sender=None, build=None, relationship=relationship, checked=checked)  # type: ignore[arg-type]
    step = SequenceStep(action="connect", give_up_after=GIVE_UP)
    pending = {
        who: Enrollment("bench", who, "acct", step=1, enrolled_at=INVITED, last_sent_at=INVITED)
        for who in accepts
    }
    delays: list[float] = []
    gave_up = 0
    for hour in range(1, DAYS * 24 + 1):
        clock.now = INVITED + hour * HOUR
        for who, enrollment in list(pending.items()):
            reason = invitations.waiting(enrollment, step, clock.now)
            if reason is None:
                accepted = accepts[who]
                assert accepted is not None
                delays.append((clock.now - accepted).total_seconds() / 3600)
                del pending[who]
            elif reason.startswith(GAVE_UP):
                gave_up += 1
                del pending[who]
    assert not pending and len(delays) == sum(1 for a in accepts.values() if a)
    return Way("ours (spaced reads)" if spaced else "every run", calls, delays, gave_up)


def run(quick: bool = False) -> Result:
    people = QUICK_PEOPLE if quick else PEOPLE
    ours, naive = simulate(people, spaced=True), simulate(people, spaced=False)

    def fmt(way: Way) -> str:
        return (
            f"{way.calls:,} calls; acceptance seen after {statistics.median(way.delays_h):.1f} h "
            f"median, {max(way.delays_h):.1f} h worst"
        )

    lines = [
        "| Way | relationship calls | per person | noticed after (median) | noticed after (worst) "
        "| given up |",
        "|---|---|---|---|---|---|",
    ]
    for way in (ours, naive):
        lines.append(
            f"| {way.name} | {way.calls:,} | {way.calls / people:.1f} "
            f"| {statistics.median(way.delays_h):.1f} h | {max(way.delays_h):.1f} h | {way.gave_up} |"
        )
    details = "\n".join(lines) + (
        f"\n\n{people:,} people invited at once, {ACCEPTING:.0%} accepting at a random time within "
        f"7 days, the others never (given up after {GIVE_UP.days} days); hourly runs for {DAYS} "
        "days, simulated. The spaced reads notice an acceptance up to a quarter of the "
        "invitation's age late (at most a day), which for outreach is a thank-you message a few "
        "hours later."
    )
    row = Row(
        benchmark=f"{people:,} pending invitations, hourly runs for {DAYS} days: relationship calls",
        ours=fmt(ours),
        alternatives=f"every run: {fmt(naive)}",
        ratio=f"{ours.calls / naive.calls:.3f} of the calls",
        target="few calls per person, like reply detection",
        met=ours.calls / people <= 50,
    )
    return Result(NAME, TITLE, [row], details)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.connect_acceptance")
    return benchmark_main(NAME, parser, lambda args: None, argv)


if __name__ == "__main__":
    raise SystemExit(main())
