"""The soak run's invariants, checked from the emulator's own record (what it delivered and
the invitations it holds, with their times and accounts), not from the ledger. The ledger is
read only to compare it with that record and for each person's final state.

Each violation is ``{"invariant": NAME, "detail": TEXT}``; the names are those of
:data:`INVARIANTS`.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from population import (
    DAILY_LIMIT,
    SEQUENCE_CAMPAIGN,
    WARMING,
    WARMUP,
    WEEKLY_LIMIT,
)
from world import Sent, _people_by_urn, delivered

from airflow_provider_connectsafely.emulator.clock import parse_iso
from airflow_provider_connectsafely.outreach.delivery import ABANDONED

INVARIANTS = {
    "no-step-twice": "no person receives a step (or message, or invitation) twice",
    "daily-cap": "no account exceeds its daily message cap (as ramped by warm-up) in any UTC day",
    "weekly-cap": "no account exceeds its weekly connect cap in any week (Monday 00:00 UTC)",
    "window": "nothing is sent outside the recipient's window (Mon-Fri 09:00-18:00, their clock)",
    "no-follow-up-after-reply": "no follow-up after a reply the API had when the run started",
    "same-account": "follow-ups come from the account that sent the first step",
    "final-state": "every person is in a terminal state, or active with a reason",
    "ledger-matches": "the ledger's sent rows equal what the emulator received, but unknown rows "
    "that each match exactly one ambiguous fault (of the cause the row's reason names)",
    "opt-out": "a reply asking to stop, once read, puts the person on the do-not-contact list "
    "(no other reply does), and nothing from any campaign reaches them after that",
    "request-rate": "API requests stay under the per-key rate (no 429 of the rate window, but "
    "those explained by fault answers without rate headers just before)",
}
# Faults after which the API may have acted or not: the send ends unknown.
AMBIGUOUS = {"error", "reset_after_body", "reset_before_body", "worker-kill"}
_OPEN = (time(9), time(18))


def warm_cap(day: int) -> int:
    """The warming account's cap on its ``day``-th day (0: its first), as the issue's
    warm-up ramp says: ``start`` on day 0, evenly up to the full cap on day ``days``."""
    if day >= WARMUP["days"]:
        return DAILY_LIMIT
    return max(
        1, min(DAILY_LIMIT, int(WARMUP["start"] + (DAILY_LIMIT - WARMUP["start"]) * day / WARMUP["days"]))
    )


def check(soak: Any, emulator: Any, ledger_url: str) -> dict[str, Any]:
    """Check every invariant at the end of ``soak``; returns the figures and the violations."""
    people = soak.population.by_id()
    sent = delivered(emulator)
    violations: list[dict[str, str]] = []

    def fail(name: str, detail: str) -> None:
        violations.append({"invariant": name, "detail": detail})

    # no step twice
    for (kind, person), n in Counter((s.kind, s.person) for s in sent).items():
        if n > 1:
            fail("no-step-twice", f"{person} received {kind} {n} times")

    # caps
    messages = [s for s in sent if s.kind != "connect"]
    per_day = Counter((s.account, s.at.date()) for s in messages)
    first_day = {}
    for s in messages:
        first_day.setdefault(s.account, s.at.date())
    for (account, day), n in sorted(per_day.items()):
        cap = warm_cap((day - first_day[account]).days) if account == WARMING else DAILY_LIMIT
        if n > cap:
            fail("daily-cap", f"{account} sent {n} messages on {day} (cap {cap})")
    per_week = Counter(
        (s.account, (s.at - timedelta(days=s.at.weekday())).date()) for s in sent if s.kind == "connect"
    )
    for (account, week), n in sorted(per_week.items()):
        if n > WEEKLY_LIMIT:
            fail("weekly-cap", f"{account} sent {n} invitations in the week of {week} (cap {WEEKLY_LIMIT})")

    # windows
    for s in sent:
        person = people.get(s.person)
        if person is None:
            fail("window", f"a {s.kind} to {s.person}, who is nobody of the population")
            continue
        local = s.at.astimezone(ZoneInfo(person.timezone))
        if local.weekday() >= 5 or not (_OPEN[0] <= local.time() < _OPEN[1]):
            fail("window", f"{s.kind} to {s.person} at {local.isoformat()} ({person.timezone})")

    # follow-ups: after a reply, and from the first step's account
    starts = [t.at for t in soak.ticks]
    visible = {r["person"]: r["visible_from"] for r in soak.world.replies}
    by_person: dict[str, dict[str, Sent]] = defaultdict(dict)
    for s in sent:
        by_person[s.person].setdefault(s.kind, s)
    for who, steps in by_person.items():
        for kind in ("step2", "step3"):
            s = steps.get(kind)
            if s is None:
                continue
            run_start = starts[max(bisect.bisect_right(starts, s.at) - 1, 0)]
            if who in visible and visible[who] <= run_start:
                fail(
                    "no-follow-up-after-reply",
                    f"{kind} to {who} at {s.at} after a reply the API had since {visible[who]}",
                )
        first = steps.get("connect") or steps.get("step2")
        for kind in ("step2", "step3"):
            s = steps.get(kind)
            if s is not None and first is not None and s.account != first.account:
                fail("same-account", f"{kind} to {who} from {s.account}, the first step from {first.account}")

    ledger = _read_ledger(ledger_url)
    faults = soak.fault_record if hasattr(soak, "fault_record") else []
    _ledger_matches(sent, ledger["sends"], faults, fail)
    finals = _final_states(soak, sent, ledger["enrollments"], fail)
    _opt_outs(soak, sent, ledger, fail)

    rate = emulator.rate_limit()
    rate["explained"] = _rate_refusals(emulator.requests(), fail)

    return {
        "violations": violations,
        "sent": sent,
        "ledger": {k: v for k, v in ledger.items() if k != "enrollments"},
        "opt_outs": {
            "written": sum(1 for r in soak.world.replies if r["opt_out"]),
            "suppressed": len(
                {
                    _people_by_urn.get(r["person"], r["person"])
                    for r in ledger["suppressions"]
                    if r["source"] == "reply"
                }
            ),
            "recontacted": len(soak.world.recontacted),
        },
        "finals": finals,
        "rate": rate,
        "requests": len(emulator.requests()),
        "counts": emulator.request_counts(),
    }


def _rate_refusals(requests: list[dict[str, Any]], fail: Any) -> list[str]:
    """The emulator's 429s of the per-key rate (not injected). One is explained when an answer
    made by an injected fault, which carries no rate headers for the client's pacing to count,
    came in the minute before it; any other is a violation."""
    explained = []
    faulted = [parse_iso(r["at"]) for r in requests if r.get("fault")]
    for r in requests:
        if r["status"] != 429 or r.get("fault"):
            continue
        at = parse_iso(r["at"])
        blind = [f for f in faulted if at - timedelta(seconds=60) <= f <= at]
        if blind:
            explained.append(
                f"{r['at']} {r['method']} {r['path'][:60]}: {len(blind)} fault answers in the minute before"
            )
        else:
            fail("request-rate", f"{r['at']} {r['method']} {r['path'][:60]} refused by the per-key rate")
    return explained


def _read_ledger(url: str) -> dict[str, Any]:
    from sqlalchemy import create_engine, select

    from airflow_provider_connectsafely.ledger.schema import enrollments, sends, suppressions

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(sends))]
            enrolled = [dict(r._mapping) for r in conn.execute(select(enrollments))]
            suppressed = [dict(r._mapping) for r in conn.execute(select(suppressions))]
    finally:
        engine.dispose()
    return {"sends": rows, "enrollments": enrolled, "suppressions": suppressed}


def _key_of(row: dict[str, Any]) -> tuple[str, str]:
    """(kind, person) of a ledger row, as :func:`world.delivered` names them: the person is the
    key's end (a follow-up's row names the conversation as its recipient)."""
    from harness import _kind_and_person

    return _kind_and_person(row["dedupe_key"])


def _cause(row_or_fault: dict[str, Any]) -> str:
    """What left a send unresolved: ``"kill"`` (a worker stopped between its claim and its
    record) or ``"answer"`` (an answer, or a broken connection, that did not say whether the API
    acted). A ledger row says which in its reason; a fault in its name."""
    if "name" in row_or_fault:
        return "kill" if row_or_fault["name"].startswith("worker SIGKILLed") else "answer"
    if row_or_fault["state"] == "pending" or ABANDONED in (row_or_fault.get("error") or ""):
        return "kill"
    return "answer"


def _ledger_matches(
    sent: list[Sent], rows: list[dict[str, Any]], faults: list[dict[str, Any]], fail: Any
) -> None:
    """Sent rows equal the emulator's deliveries; each unknown or pending row matches exactly one
    ambiguous fault of the cause its reason names (a random kill that lands after a reset of the
    same send has already been recorded is not a second explanation of it)."""
    received = {(s.kind, s.person) for s in sent}
    recorded = {_key_of(r): r for r in rows}
    ambiguous = Counter(
        (f["kind"], f["person"], _cause(f)) for f in faults if f.get("ambiguous") and f.get("person")
    )
    for key, row in recorded.items():
        if row["state"] == "sent" and key not in received:
            fail("ledger-matches", f"the ledger has {row['dedupe_key']} sent; the emulator never received it")
        cause = _cause(row) if row["state"] in ("unknown", "pending") else ""
        if cause and ambiguous[(*key, cause)] != 1:
            fail(
                "ledger-matches",
                f"{row['dedupe_key']} is {row['state']} ({cause}) but matches "
                f"{ambiguous[(*key, cause)]} ambiguous faults of that cause",
            )
    for key in received - {k for k, r in recorded.items() if r["state"] == "sent"}:
        row = recorded.get(key)
        if row is None or row["state"] not in ("unknown", "pending"):
            state = row["state"] if row else "no row"
            fail("ledger-matches", f"the emulator received {key[0]} to {key[1]}; the ledger says {state}")


def _final_states(soak: Any, sent: list[Sent], enrolled: list[dict[str, Any]], fail: Any) -> Counter:
    """Each sequence person's end: terminal, or active with the reason the record shows."""
    got: dict[str, set[str]] = defaultdict(set)
    for s in sent:
        got[s.person].add(s.kind)
    rows = {r["recipient"]: r for r in enrolled if r["campaign"] == SEQUENCE_CAMPAIGN}
    replied = {r["person"] for r in soak.world.replies}
    accepted = {a["person"] for a in soak.world.accepted}
    finals: Counter = Counter()
    for person in soak.population.group("sequence"):
        who = person.profile_id
        row = rows.get(who)
        kinds = got.get(who, set())
        if row is None:
            finals["not enrolled"] += 1
            fail("final-state", f"{who} was never enrolled")
            continue
        state = row["state"]
        if state != "active":
            finals[state] += 1
            if state == "finished" and "step3" not in kinds:
                fail("final-state", f"{who} is finished without the last step (got {sorted(kinds)})")
            continue
        if "step3" in kinds:
            reason = None  # every step arrived: it should be finished
        elif who in replied:
            reason = "replied; stops at the next run"
        elif "step2" in kinds:
            reason = "waiting for the follow-up's time"
        elif "connect" in kinds and not (person.connected or who in accepted):
            reason = "waiting for acceptance"
        elif "connect" not in kinds and not person.connected:
            reason = "waiting for an invitation (weekly cap, window)"
        else:
            reason = "accepted or connected, waiting for a window or the daily cap"
        if reason is None:
            fail("final-state", f"{who} got every step but is still active")
            reason = "active without a reason"
        finals[f"active: {reason}"] += 1
    return finals


def _opt_outs(soak: Any, sent: list[Sent], ledger: dict[str, Any], fail: Any) -> None:
    """A read opt-out suppresses the person (and nothing else does); nothing reaches a person
    after their suppression was committed, whichever DAG tries."""
    opted = {r["person"] for r in soak.world.replies if r["opt_out"]}
    enrolled = {
        r["recipient"]: r["state"] for r in ledger["enrollments"] if r["campaign"] == SEQUENCE_CAMPAIGN
    }
    # a person is listed under each of their identifiers (profile id, URN): one entry each
    listed: dict[str, dict[str, Any]] = {}
    for row in sorted(ledger["suppressions"], key=lambda r: r["created_at"]):
        if row["scope"] == "":
            listed.setdefault(_people_by_urn.get(row["person"], row["person"]), row)
    for who in sorted(opted):
        if enrolled.get(who) in ("replied", "suppressed") and who not in listed:
            fail(
                "opt-out",
                f"{who} asked to stop and the sequence read it ({enrolled[who]}), but is not suppressed",
            )
    for who, row in sorted(listed.items()):
        if row["source"] == "reply" and who not in opted:
            fail("opt-out", f"{who} is suppressed from a reply that did not ask to stop")
        since = row["created_at"]
        for s in sent:
            if s.person == who and s.at > since:
                fail("opt-out", f"{s.kind} to {who} at {s.at}, on the do-not-contact list since {since}")
