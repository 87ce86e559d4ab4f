"""A campaign's funnel, computed in the database: enrolled, first step sent, accepted (a
connect-first sequence), replied; per step the people it reached, the replies it drew, their
rate and median time; skipped people by reason.

Read-only, over a ledger at ``migrations.HEAD``. Every figure is a ``GROUP BY`` over one
campaign's rows of an index (``ix_connectsafely_enrollments_funnel``) or the sends counts the
database keeps; the medians sort one step's replies only. No Airflow imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely.ledger.records import CONNECT, SEND_STATES, SENT, SEQUENCE
from airflow_provider_connectsafely.ledger.sequences import REPLIED, SKIP_REASONS, SUPPRESSED

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.store import SendLedger


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 places; None when ``whole`` is 0."""
    return round(part / whole, 4) if whole else None


def campaign_funnel(ledger: SendLedger, label: str) -> dict[str, Any]:
    """The funnel of the campaign labelled ``label`` (``sequence:<c>`` or ``batch:<c>``, as
    the ledger's ``campaign`` column): JSON-ready.

    A batch has sends only: its ``stages`` are the sends per state, with no steps. For a
    sequence, step ``k``'s ``sent`` counts the people past step ``k`` (its message sent, or a
    connect step skipped for a person already connected: see ``skipped``), ``replied`` those
    whose reply came after step ``k`` (the latest step they got), ``median_reply_seconds``
    the median of reply time minus that step's send time.

    :param ledger: a ledger at ``migrations.HEAD``.
    :param label: the campaign's label.
    """
    from sqlalchemy import func, select

    from airflow_provider_connectsafely.ledger.schema import enrollments as people
    from airflow_provider_connectsafely.ledger.schema import send_counts as counts

    kind, _, name = label.partition(":")
    sends_by = (
        select(counts.c.kind, counts.c.state, func.sum(counts.c.sends))
        .where(counts.c.campaign == label)
        .group_by(counts.c.kind, counts.c.state)
    )
    per_step = (
        select(
            people.c.step,
            people.c.state,
            people.c.skip_reason,
            people.c.accepted_at.is_not(None),
            func.count(),
        )
        .where(people.c.campaign == name)
        .group_by(people.c.step, people.c.state, people.c.skip_reason, people.c.accepted_at.is_not(None))
    )
    sends: dict[str, dict[str, int]] = {}
    steps: dict[int, dict[str, int]] = {}
    skipped = dict.fromkeys((*SKIP_REASONS, SUPPRESSED), 0)
    enrolled = accepted = 0
    with ledger.engine.connect() as conn:
        for send_kind, state, n in conn.execute(sends_by):
            sends.setdefault(str(send_kind), {})[str(state)] = int(n or 0)
        if kind == SEQUENCE:
            for step, state, reason, was_accepted, n in conn.execute(per_step):
                at = steps.setdefault(int(step), {"people": 0, "replied": 0})
                at["people"] += n
                at["replied"] += n if state == REPLIED else 0
                enrolled += n
                accepted += n if was_accepted else 0
                # A person on the do-not-contact list counts there, whatever held them before.
                why = SUPPRESSED if state == SUPPRESSED else reason
                if why is not None:
                    skipped[str(why)] = skipped.get(str(why), 0) + n
        medians = {
            step: _median_reply_seconds(conn, ledger, name, step)
            for step, at in steps.items()
            if at["replied"] and step > 0
        }
    sent_by_kind = {k: by_state.get(SENT, 0) for k, by_state in sends.items()}
    totals: dict[str, int] = {
        state: sum(by_state.get(state, 0) for by_state in sends.values()) for state in SEND_STATES
    }
    if kind != SEQUENCE:
        return {"label": label, "campaign": name, "kind": kind, "sends": totals, "stages": [], "steps": []}
    return _sequence_funnel(label, name, enrolled, accepted, steps, medians, skipped, sent_by_kind, totals)


def _sequence_funnel(
    label: str,
    name: str,
    enrolled: int,
    accepted: int,
    steps: dict[int, dict[str, int]],
    medians: dict[int, float | None],
    skipped: dict[str, int],
    sent_by_kind: dict[str, int],
    totals: dict[str, int],
) -> dict[str, Any]:
    last = max(steps, default=0)
    # people past step k: those at step k or further
    past = {k: sum(at["people"] for step, at in steps.items() if step >= k) for k in range(1, last + 1)}
    replied = sum(at["replied"] for at in steps.values())
    connects = sent_by_kind.get(CONNECT, 0)
    connect_first = CONNECT in sent_by_kind or accepted > 0
    first = past.get(1, 0)
    # Each stage's rate: first step sent of enrolled, accepted of the connection requests
    # sent, replied of those who got a first step (a person already connected may reply
    # without accepting anything, so replies are not a share of the accepted).
    stages = [{"stage": "enrolled", "people": enrolled, "rate": None}]
    stages.append({"stage": "first step sent", "people": first, "rate": rate(first, enrolled)})
    if connect_first:
        stages.append({"stage": "accepted", "people": accepted, "rate": rate(accepted, connects)})
    stages.append({"stage": "replied", "people": replied, "rate": rate(replied, first)})
    rows = []
    for k in range(1, last + 1):
        drew = steps.get(k, {}).get("replied", 0)
        rows.append(
            {
                "step": k,
                "sent": past[k],
                "replied": drew,
                "reply_rate": rate(drew, past[k]),
                "median_reply_seconds": medians.get(k),
            }
        )
    return {
        "label": label,
        "campaign": name,
        "kind": SEQUENCE,
        "sends": totals,
        "enrolled": enrolled,
        "connect_first": connect_first,
        "connection_requests_sent": connects,
        "accepted": accepted,
        "acceptance_rate": rate(accepted, connects) if connect_first else None,
        "replied": replied,
        "stages": stages,
        "steps": rows,
        "skipped": skipped,
    }


def _median_reply_seconds(conn: Any, ledger: SendLedger, campaign: str, step: int) -> float | None:
    """The median of ``replied_at - last_sent_at`` over one step's replies: the middle one or
    two values of that step's replies sorted in SQL (both dialects; no percentile function
    on SQLite)."""
    from sqlalchemy import func, literal, select

    from airflow_provider_connectsafely.ledger.schema import enrollments as people

    if ledger.engine.dialect.name == "sqlite":
        delta: Any = (func.julianday(people.c.replied_at) - func.julianday(people.c.last_sent_at)) * literal(
            86400.0
        )
    else:
        delta = func.extract("epoch", people.c.replied_at - people.c.last_sent_at)
    mine = (
        people.c.campaign == campaign,
        people.c.step == step,
        people.c.state == REPLIED,
        people.c.replied_at.is_not(None),
        people.c.last_sent_at.is_not(None),
    )
    n = int(conn.execute(select(func.count()).where(*mine)).scalar_one())
    if not n:
        return None
    middle = [
        float(v)
        for v in conn.execute(
            select(delta).where(*mine).order_by(delta).offset((n - 1) // 2).limit(2 - n % 2)
        ).scalars()
    ]
    return round(sum(middle) / len(middle), 1)
