"""The soak run's faults, drawn from the seed (tests/soak): what to inject at each tick, and
what each fault did, read back from the emulator's record of the requests it hit.

- 429 bursts with ``holdUntil``: a short hold (waited out in the task) or a long one (the task
  stops and the next run carries on);
- 5xx and connection resets before and after the API acted, on the next send of an account;
- one account answering 401 to its sends for a whole UTC day;
- the worker SIGKILLed at a random moment (from outside) or between the API's answer and the
  ledger's write (from inside);
- PostgreSQL restarted twice: once between two ticks, once while a worker runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from population import ACCOUNTS, SINGLE_ACCOUNT
from world import kind_of

#: (name, emulator fault, params, ambiguous: the API may have acted or not)
SEND_FAULTS = (
    ("500 before acting", "error", {"status": 500}, True),
    ("502 after acting", "error", {"status": 502, "deliver": True}, True),
    ("503 (nothing done)", "error", {"status": 503}, False),
    ("reset before the body", "reset_before_body", {}, True),
    ("reset after acting", "reset_after_body", {"deliver": True}, True),
    ("reset, not acted", "reset_after_body", {"deliver": False}, True),
)
REFUSING_ACCOUNT = SINGLE_ACCOUNT


@dataclass
class FaultPlan:
    """Decides, tick by tick, what goes wrong; keeps the record of what did.

    :param seed: the run's seed.
    :param ticks: the number of hourly ticks of the run.
    """

    seed: int
    ticks: int
    record: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"faults-{self.seed}")
        self.refusing_day = 1  # the second simulated day
        self.pg_between = self.ticks // 3 + self.rng.randrange(6)
        self.pg_during = 2 * self.ticks // 3 + self.rng.randrange(6)
        # at least one kill of each kind, whatever the draws: on the first day's working hours
        self.inside_kills = {9 + self.rng.randrange(6)}
        self.outside_kills = {16 + self.rng.randrange(6)}

    def for_tick(self, number: int, day: int) -> dict[str, Any]:
        """This tick's faults: ``queue`` (emulator faults), ``kill_after`` (seconds, from
        outside), ``kill_after_answer`` (the n-th answer, from inside), ``pg``
        (``between`` or ``during``)."""
        rng = self.rng
        plan: dict[str, Any] = {"queue": []}
        if rng.random() < 0.08:
            seconds = rng.choice((20, 5400))
            count = rng.randint(2, 4)
            plan["queue"].append(
                (
                    f"429 burst, holdUntil in {seconds} s",
                    "rate_limit_hold_until",
                    {"seconds": seconds},
                    count,
                    None,
                    False,
                )
            )
        if rng.random() < 0.07:
            name, fault, params, ambiguous = rng.choice(SEND_FAULTS)
            account = rng.choice(ACCOUNTS)
            plan["queue"].append((name, fault, params, 1, {"accountId": account}, ambiguous))
        if day == self.refusing_day:
            plan["queue"].append(
                ("401 for the day", "error", {"status": 401}, 100_000, {"accountId": REFUSING_ACCOUNT}, False)
            )
        draw = rng.random()
        if draw < 0.03 or number in self.outside_kills:
            plan["kill_after"] = round(rng.uniform(0.6, 1.6), 2)
        elif draw < 0.06 or number in self.inside_kills:
            plan["kill_after_answer"] = rng.randint(1, 2)
        if number == self.pg_between:
            plan["pg"] = "between"
        elif number == self.pg_during:
            plan["pg"] = "during"
        return plan

    def read_back(
        self, at: Any, requests: list[dict[str, Any]], people_of: dict[str, str], queued: list
    ) -> None:
        """Record what each injected fault did, from the emulator's records of this tick."""
        names = {}
        for name, fault, params, _count, match, ambiguous in queued:
            names.setdefault(fault, []).append((name, params, match, ambiguous))
        refusals = 0
        for r in requests:
            if not r.get("fault"):
                continue
            body = r.get("body") or {}
            candidates = names.get(r["fault"], [])
            name, params, match, ambiguous = candidates[0] if candidates else (r["fault"], {}, None, False)
            for candidate in candidates:  # the one whose match and status fit this request
                fits = not candidate[2] or all(body.get(k) == v for k, v in candidate[2].items())
                if fits and candidate[1].get("status", r["status"]) == r["status"]:
                    name, params, match, ambiguous = candidate
                    break
            if name == "401 for the day":
                refusals += 1
                continue
            person = (
                body.get("recipientProfileId")
                or body.get("profileId")
                or people_of.get(body.get("conversationUrn", ""), "")
            )
            kind = "connect" if r["path"].endswith("/connect") else kind_of(body.get("message", ""))
            target = f"{kind} to {person}" if person else f"{r['method']} {r['path'].split('?')[0]}"
            self.record.append(
                {
                    "at": at,
                    "name": name,
                    "ambiguous": ambiguous and r["path"].endswith(("/send", "/connect", "send-with-typing")),
                    "kind": kind,
                    "person": person,
                    "effect": f"hit {target}: HTTP {r['status']}, delivered {r['delivered']}",
                }
            )
        if refusals:
            self.record.append(
                {
                    "at": at,
                    "name": "401 for the day",
                    "effect": f"{refusals} sends of {REFUSING_ACCOUNT} refused",
                }
            )
