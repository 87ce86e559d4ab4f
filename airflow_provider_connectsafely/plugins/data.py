"""What the ledger page shows, as plain JSON-ready dicts: read-only queries over a ledger at
``migrations.HEAD``, plus settling one row. No Airflow imports; "now" is always passed in.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_connectsafely.ledger import queries
from airflow_provider_connectsafely.ledger.records import FAILED, PENDING, SENT, UNKNOWN, LedgerEntry
from airflow_provider_connectsafely.ledger.sequences import STATES

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.store import SendLedger

DAYS = 30
MAX_PAGE_SIZE = 200
SETTLEABLE = (PENDING, UNKNOWN)
_MAX_SEARCH = 200


def day_start(now: datetime) -> datetime:
    """00:00 UTC of ``now``'s day: where the daily cap counts from."""
    now = now.astimezone(timezone.utc) if now.tzinfo else now.replace(tzinfo=timezone.utc)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def today(ledger: SendLedger, now: datetime, cap: int) -> dict[str, Any]:
    """Per account, sends recorded ``sent`` since 00:00 UTC, against the daily cap (one query:
    the same count as ``queries.account_stats``' ``sent_today``)."""
    from sqlalchemy import func, select

    from airflow_provider_connectsafely.ledger.schema import sends

    start = day_start(now)
    query = (
        select(sends.c.account, func.count())
        .where(sends.c.state == SENT, sends.c.updated_at >= start)
        .group_by(sends.c.account)
        .order_by(sends.c.account)
    )
    with ledger.engine.connect() as conn:
        counts = [(str(account), int(n)) for account, n in conn.execute(query)]
    return {
        "day_start": start.isoformat(),
        "cap": cap,
        "accounts": [
            {"account": account, "sent_today": n, "cap": cap, "left": max(cap - n, 0)}
            for account, n in counts
        ],
    }


def daily(ledger: SendLedger, now: datetime, days: int = DAYS) -> dict[str, Any]:
    """Sends recorded ``sent`` per UTC day, for the last ``days`` days (today included)."""
    from sqlalchemy import func, select

    from airflow_provider_connectsafely.ledger.schema import sends

    first = day_start(now) - timedelta(days=days - 1)
    if ledger.engine.dialect.name == "sqlite":  # stored as 'YYYY-MM-DD HH:MM:SS...' in UTC
        day: Any = func.substr(sends.c.updated_at, 1, 10)
    else:
        day = func.to_char(func.timezone("UTC", sends.c.updated_at), "YYYY-MM-DD")
    query = (
        select(day.label("day"), func.count())
        .where(sends.c.state == SENT, sends.c.updated_at >= first)
        .group_by(day)
    )
    with ledger.engine.connect() as conn:
        counts = {str(d): int(n) for d, n in conn.execute(query)}
    series = []
    for offset in range(days):
        key = (first + timedelta(days=offset)).date().isoformat()
        series.append({"day": key, "sent": counts.get(key, 0)})
    return {"days": series, "total": sum(point["sent"] for point in series)}


def campaigns(ledger: SendLedger) -> dict[str, Any]:
    """Per batch or sequence campaign: sends per state, and a sequence's enrolments per state.

    The same figures as ``queries.campaign_stats``, grouped in the database rather than one key
    at a time in Python: a key's trailing ``:<recipient>`` is cut off in SQL (when the key ends
    with the row's recipient), and only the few distinct heads are parsed here.
    """
    from sqlalchemy import and_, case, func, or_, select

    from airflow_provider_connectsafely.ledger.schema import enrollments, sends

    key, recipient = sends.c.dedupe_key, sends.c.recipient
    key_len, rec_len = func.length(key), func.length(recipient)
    ends_with_recipient = and_(
        rec_len > 0,
        key_len > rec_len + 1,
        func.substr(key, key_len - rec_len + 1) == recipient,
        func.substr(key, key_len - rec_len, 1) == ":",
    )
    head = case((ends_with_recipient, func.substr(key, 1, key_len - rec_len - 1)), else_=key)
    cut = case((ends_with_recipient, 1), else_=0)
    grouped = (
        select(head, cut, sends.c.state, func.count())
        .where(or_(*(key.startswith(f"{p}:", autoescape=True) for p in ("campaign", "sequence"))))
        .group_by(head, cut, sends.c.state)
    )
    people = select(enrollments.c.campaign, enrollments.c.state, func.count()).group_by(
        enrollments.c.campaign, enrollments.c.state
    )
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(kind: str, name: str) -> dict[str, Any]:
        return found.setdefault(
            (kind, name),
            {
                "campaign": name,
                "kind": kind,
                "sends": dict.fromkeys(queries.SEND_STATES, 0),
                "enrollments": dict.fromkeys(STATES, 0) if kind == queries.SEQUENCE else None,
            },
        )

    with ledger.engine.connect() as conn:
        for text, was_cut, state, count in conn.execute(grouped):
            parsed = queries.campaign_of(f"{text}:x" if was_cut else text)
            if parsed is not None:
                sends_by_state = entry(*parsed)["sends"]
                sends_by_state[state] = sends_by_state.get(state, 0) + int(count)
        for name, state, count in conn.execute(people):
            by_state = entry(queries.SEQUENCE, name)["enrollments"]
            by_state[state] = by_state.get(state, 0) + int(count)
    return {"campaigns": [found[k] for k in sorted(found, key=lambda k: (k[1], k[0]))]}


def sends_page(
    ledger: SendLedger,
    *,
    search: str = "",
    state: str | None = None,
    page: int = 1,
    size: int = 50,
    ui_root: str = "",
) -> dict[str, Any]:
    """One page of sends, newest first. ``search`` matches part of the dedupe key (which holds
    the campaign), the recipient, the DAG or the task (case-insensitively); bound parameters,
    with ``%`` and ``_`` taken literally.

    :param ui_root: the Airflow UI's path prefix, for the links to task instances.
    """
    from sqlalchemy import func, or_, select

    from airflow_provider_connectsafely.ledger.schema import sends
    from airflow_provider_connectsafely.ledger.store import _entry

    page = max(page, 1)
    size = min(max(size, 1), MAX_PAGE_SIZE)
    conditions: list[Any] = []
    if state:
        conditions.append(sends.c.state == state)
    text = search.strip()[:_MAX_SEARCH]
    if text:
        columns = (sends.c.dedupe_key, sends.c.recipient, sends.c.dag_id, sends.c.task_id)
        conditions.append(or_(*(column.icontains(text, autoescape=True) for column in columns)))
    rows = (
        select(sends)
        .where(*conditions)
        .order_by(sends.c.updated_at.desc(), sends.c.dedupe_key)
        .limit(size)
        .offset((page - 1) * size)
    )
    total = select(func.count()).select_from(sends).where(*conditions)
    with ledger.engine.connect() as conn:
        entries = [_entry(row) for row in conn.execute(rows).mappings()]
        count = int(conn.execute(total).scalar_one())
    return {
        "page": page,
        "size": size,
        "total": count,
        "pages": max((count + size - 1) // size, 1),
        "rows": [row_json(entry, ui_root) for entry in entries],
    }


def row_json(entry: LedgerEntry, ui_root: str = "") -> dict[str, Any]:
    """One send for the table; never the stored API answer (it is not needed here)."""
    parsed = queries.campaign_of(entry.dedupe_key)
    return {
        "dedupe_key": entry.dedupe_key,
        "recipient": entry.recipient,
        "account": entry.account,
        "campaign": parsed[1] if parsed else None,
        "state": entry.state,
        "attempts": entry.attempts,
        "updated_at": entry.updated_at.isoformat(),
        "dag_id": entry.dag_id,
        "task_id": entry.task_id,
        "run_id": entry.run_id,
        "map_index": entry.map_index,
        "task_instance_url": task_instance_url(entry, ui_root),
        "error": entry.error,
        "settled_by": entry.settled_by,
        "settled_at": entry.settled_at.isoformat() if entry.settled_at else None,
        "settle_note": entry.settle_note,
        "settleable": entry.state in SETTLEABLE,
    }


def task_instance_url(entry: LedgerEntry, ui_root: str = "") -> str | None:
    """``{ui_root}/dags/{dag_id}/runs/{run_id}/tasks/{task_id}`` (``/mapped/{i}`` for a mapped
    task), each part URL-quoted; None when the send names no task instance."""
    if not (entry.dag_id and entry.run_id and entry.task_id):
        return None
    parts = (quote(entry.dag_id, safe=""), quote(entry.run_id, safe=""), quote(entry.task_id, safe=""))
    url = f"{ui_root.rstrip('/')}/dags/{parts[0]}/runs/{parts[1]}/tasks/{parts[2]}"
    if entry.map_index is not None and entry.map_index >= 0:
        url += f"/mapped/{entry.map_index}"
    return url


def settle(ledger: SendLedger, dedupe_key: str, state: str, note: str, settled_by: str) -> LedgerEntry | None:
    """Settle a ``pending`` or ``unknown`` send as ``sent`` or ``failed``; the row after, or
    None when no such row is pending or unknown."""
    if state not in (SENT, FAILED):
        raise ValueError("settle a send as 'sent' or 'failed'")
    if not note.strip():
        raise ValueError("a note is required")
    if not ledger.resolve(dedupe_key, state, note.strip(), settled_by=settled_by):
        return None
    return ledger.get(dedupe_key)
