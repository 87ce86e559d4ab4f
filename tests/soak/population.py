"""The simulated people and accounts of a soak run, drawn from one seed (no Airflow imports).

Everything random in a soak run comes from ``random.Random(seed)`` streams made here, so a
seed replays the same month: who is in which campaign, their time zones, who is already
connected, who accepts and replies and when.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

#: The simulated month starts on a Monday, two weeks before the US and four before the EU
#: switch to summer time, so the sending windows cross both changes.
START = datetime(2027, 3, 1, tzinfo=timezone.utc)
ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Helsinki",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Los_Angeles",
)
#: Three accounts: the first two warm, the third new (its daily cap ramps up).
ACCOUNTS = ("a0a0a0a0a0a0a0a0a0a0a0a0", "b1b1b1b1b1b1b1b1b1b1b1b1", "c2c2c2c2c2c2c2c2c2c2c2c2")
WARMING = ACCOUNTS[2]
WARMUP = {"start": 5, "days": 10}
DAILY_LIMIT = 30  # messages per account per UTC day, every operator
WEEKLY_LIMIT = 60  # connection requests per account per week
WINDOW = "Mon-Fri 09:00-18:00"
FOLLOW_UP_WAIT = timedelta(days=2)
SEQUENCE_CAMPAIGN = "soak-sequence"
BATCH_CAMPAIGN = "soak-batch"
SINGLE_CAMPAIGN = "soak-single"
BATCH_ACCOUNT = ACCOUNTS[0]
SINGLE_ACCOUNT = ACCOUNTS[1]
SIZES = {"sequence": 1400, "batch": 450, "single": 150}
CONNECTED_SHARE = 0.05
ACCEPT_SHARE = 0.35
REPLY_SHARE = 0.08
#: Of the sequence people who reply, the share whose reply asks to stop; every one of them,
#: and a few others, is on the batch campaign's list too (after its own people), so a later
#: batch send would reach them if their opt-out were not obeyed.
OPT_OUT_SHARE = 0.3
ALSO_BATCH_SHARE = 0.05
OPT_OUT_TEXT = "Please remove me from your list."
REPLY_TEXT = "Thanks, not now."
#: How long after an opt-out the single-send DAG is pointed at the person (it must skip them).
RECONTACT_AFTER = timedelta(hours=3)


@dataclass
class Person:
    """One simulated person and what they will do.

    :param accept_after: how long after an invitation reaches them they accept it (None: never).
    :param reply_after: how long after the first message reaches them they reply (None: never).
    :param opts_out: their reply asks to stop (:data:`OPT_OUT_TEXT`).
    :param also_batch: a sequence person on the batch campaign's list too.
    """

    profile_id: str
    first_name: str
    timezone: str
    group: str
    connected: bool = False
    accept_after: float | None = None  # hours
    reply_after: float | None = None  # hours
    opts_out: bool = False
    also_batch: bool = False


@dataclass
class Population:
    """Everyone of a soak run, by group (``sequence``, ``batch``, ``single``)."""

    seed: int
    people: list[Person] = field(default_factory=list)

    def group(self, name: str) -> list[Person]:
        return [p for p in self.people if p.group == name]

    def by_id(self) -> dict[str, Person]:
        return {p.profile_id: p for p in self.people}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps({"seed": self.seed, "people": [asdict(p) for p in self.people]}))

    def write_crm(self, path: Path) -> None:
        """The people as a CRM table the DAGs read with ``recipients_sql`` (a list literal in
        a templated field would cost Airflow a Jinja compile per string at every run)."""
        import sqlite3

        path.unlink(missing_ok=True)
        with sqlite3.connect(path) as conn:
            conn.execute(
                "CREATE TABLE people (recipient_profile_id TEXT PRIMARY KEY, first_name TEXT, "
                "timezone TEXT, grp TEXT, also_batch INTEGER)"
            )
            conn.executemany(
                "INSERT INTO people VALUES (?, ?, ?, ?, ?)",
                [(p.profile_id, p.first_name, p.timezone, p.group, int(p.also_batch)) for p in self.people],
            )

    @classmethod
    def read(cls, path: Path) -> Population:
        data = json.loads(path.read_text())
        return cls(data["seed"], [Person(**p) for p in data["people"]])


def draw(seed: int) -> Population:
    """The population of ``seed``: 2,000 people in 12 time zones."""
    rng = random.Random(f"population-{seed}")
    population = Population(seed)
    number = 0
    for group, size in SIZES.items():
        for _ in range(size):
            number += 1
            person = Person(
                profile_id=f"soak-{number:05d}",
                first_name=f"P{number}",
                timezone=rng.choice(ZONES),
                group=group,
            )
            if group == "sequence":
                person.connected = rng.random() < CONNECTED_SHARE
                if rng.random() < ACCEPT_SHARE:
                    person.accept_after = rng.expovariate(1 / 30)  # hours, mean 30
            if rng.random() < REPLY_SHARE:
                person.reply_after = rng.expovariate(1 / 40)
            population.people.append(person)
    # A stream of its own, so that everything drawn above is what it was before opt-outs.
    extra = random.Random(f"opt-outs-{seed}")
    for person in population.group("sequence"):
        person.opts_out = person.reply_after is not None and extra.random() < OPT_OUT_SHARE
        person.also_batch = extra.random() < ALSO_BATCH_SHARE or person.opts_out
    return population
