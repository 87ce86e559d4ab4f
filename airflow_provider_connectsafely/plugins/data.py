"""What the ledger page shows, as plain JSON-ready dicts: read-only queries over a ledger at
``migrations.HEAD``, plus settling one row. No Airflow imports; "now" is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_connectsafely.ledger import account_status, queries
from airflow_provider_connectsafely.ledger.records import (
    CONNECT,
    FAILED,
    MESSAGE,
    PENDING,
    SENT,
    SEQUENCE,
    UNKNOWN,
    LedgerEntry,
    campaign_of,
)
from airflow_provider_connectsafely.ledger.sequences import STATES

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.store import SendLedger

DAYS = 30
MAX_PAGE_SIZE = 200
SETTLEABLE = (PENDING, UNKNOWN)
_MAX_SEARCH = 200
#: A search's total is counted up to this many rows.
MAX_COUNTED = 10_000
#: How many replies the page lists.
REPLIES_SHOWN = 50
LINKEDIN_THREAD = "https://www.linkedin.com/messaging/thread/"
_CSV_CHUNK = 1_000


def day_start(now: datetime) -> datetime:
    """00:00 UTC of ``now``'s day: where the daily cap counts from."""
    now = now.astimezone(timezone.utc) if now.tzinfo else now.replace(tzinfo=timezone.utc)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def today(ledger: SendLedger, now: datetime, cap: int, connect_cap: int | None = None) -> dict[str, Any]:
    """Per account, messages recorded ``sent`` since 00:00 UTC against the daily cap, and
    connection requests sent since Monday 00:00 UTC against the weekly connect cap (read from
    the counts the database keeps: a few rows whatever the ledger's size).

    Each cap is the one the tasks recorded for that account's current window
    (``cap_source`` ``applied``); ``cap`` / ``connect_cap`` are shown for an account with none
    recorded (``assumed``). An account a task found unavailable (401/403, or an unavailable
    status) carries ``unavailable``: the reason, since when, and when last seen so; it is
    listed (like an account with a cap applied today) even with no sends.
    """
    from sqlalchemy import func, select

    from airflow_provider_connectsafely.ledger.schema import send_counts as counts

    start = day_start(now)
    monday = start - timedelta(days=start.weekday())
    query = (
        select(counts.c.account, counts.c.kind, func.sum(counts.c.sends))
        .where(counts.c.state == SENT, counts.c.day >= _day(monday))
        .where((counts.c.kind == CONNECT) | (counts.c.day == _day(start)))
        .group_by(counts.c.account, counts.c.kind)
    )
    found: dict[str, dict[str, int]] = {}
    with ledger.engine.connect() as conn:
        for account, kind, n in conn.execute(query):
            found.setdefault(str(account), {MESSAGE: 0, CONNECT: 0})[kind] = int(n or 0)
    applied_today = queries.applied_caps(ledger, since=start, until=now)
    applied_week = queries.applied_caps(ledger, since=monday, until=now)
    down = account_status.unavailable(ledger)
    shown = {a for a, n in found.items() if n[MESSAGE] or n[CONNECT]}
    shown |= (
        {a for a, _kind in applied_today} | {a for a, kind in applied_week if kind == CONNECT} | set(down)
    )
    accounts = []
    for account in sorted(shown):
        sent, connects = found.get(account, {}).get(MESSAGE, 0), found.get(account, {}).get(CONNECT, 0)
        daily_cap = applied_today.get((account, MESSAGE))
        weekly_cap = applied_week.get((account, CONNECT))
        row: dict[str, Any] = {
            "account": account,
            "sent_today": sent,
            "cap": cap if daily_cap is None else daily_cap,
            "cap_source": "assumed" if daily_cap is None else "applied",
        }
        row["left"] = max(row["cap"] - sent, 0)
        row["connects_this_week"] = connects
        row["connect_cap"] = connect_cap if weekly_cap is None else weekly_cap
        row["connect_cap_source"] = "assumed" if weekly_cap is None else "applied"
        row["unavailable"] = None
        if account in down:
            reason, since, seen = down[account]
            row["unavailable"] = {"reason": reason, "since": since.isoformat(), "seen_at": seen.isoformat()}
        accounts.append(row)
    return {
        "day_start": start.isoformat(),
        "week_start": monday.isoformat(),
        "cap": cap,
        "connect_cap": connect_cap,
        "accounts": accounts,
    }


def daily(ledger: SendLedger, now: datetime, days: int = DAYS) -> dict[str, Any]:
    """Messages recorded ``sent`` per UTC day, for the last ``days`` days (today included)."""
    from sqlalchemy import func, select

    from airflow_provider_connectsafely.ledger.schema import send_counts as counts

    first = day_start(now) - timedelta(days=days - 1)
    query = (
        select(counts.c.day, func.sum(counts.c.sends))
        .where(counts.c.state == SENT, counts.c.kind == MESSAGE, counts.c.day >= _day(first))
        .group_by(counts.c.day)
    )
    with ledger.engine.connect() as conn:
        found = {str(d): int(n or 0) for d, n in conn.execute(query)}
    series = []
    for offset in range(days):
        key = _day(first + timedelta(days=offset))
        series.append({"day": key, "sent": found.get(key, 0)})
    return {"days": series, "total": sum(point["sent"] for point in series)}


def campaigns(ledger: SendLedger) -> dict[str, Any]:
    """Per batch or sequence campaign: sends per state (from the kept counts), and a sequence's
    enrolments per state; the same figures as ``queries.campaign_stats``."""
    from sqlalchemy import func, select

    from airflow_provider_connectsafely.ledger.schema import enrollments
    from airflow_provider_connectsafely.ledger.schema import send_counts as counts

    grouped = (
        select(counts.c.campaign, counts.c.state, func.sum(counts.c.sends))
        .where(counts.c.campaign != "")
        .group_by(counts.c.campaign, counts.c.state)
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
                "label": f"{kind}:{name}",
                "sends": dict.fromkeys(queries.SEND_STATES, 0),
                "enrollments": dict.fromkeys(STATES, 0) if kind == SEQUENCE else None,
            },
        )

    with ledger.engine.connect() as conn:
        for label, state, count in conn.execute(grouped):
            if not count:
                continue
            kind, _, name = str(label).partition(":")
            by_state = entry(kind, name)["sends"]
            by_state[state] = by_state.get(state, 0) + int(count)
        for name, state, count in conn.execute(people):
            by_state = entry(SEQUENCE, name)["enrollments"]
            by_state[state] = by_state.get(state, 0) + int(count)
    return {"campaigns": [found[k] for k in sorted(found, key=lambda k: (k[1], k[0]))]}


def variants(ledger: SendLedger, label: str) -> dict[str, Any]:
    """One campaign's results per step and variant (``label`` as the ``campaigns`` answer
    names it, e.g. ``sequence:onboard``): sent, replied (None for a batch: it records no
    replies), the reply rate and its 95% Wilson interval. Empty for an unknown label."""
    from airflow_provider_connectsafely.outreach.variants import result_row

    kind, _, name = label.partition(":")
    if kind not in (queries.BATCH, queries.SEQUENCE) or not name:
        return {"campaign": label, "results": []}
    rows = queries.variant_counts(ledger, kind, name)
    return {"campaign": label, "results": [result_row(*row) for row in rows]}


@dataclass(frozen=True)
class SendFilter:
    """Which sends the page's table (and its CSV download) shows; every filter given must match.

    :param search: the beginning of a recipient's profile ID or URN, case-insensitively (a
        bound parameter; ``%`` and ``_`` are taken literally).
    :param state: only sends in this state.
    :param campaign: only sends of this campaign, as the ``campaigns`` answer names it
        (``<kind>:<name>``, e.g. ``batch:spring``).
    :param account: only sends of this LinkedIn account.
    :param since: only sends updated on or after this UTC day.
    :param until: only sends updated on or before this UTC day.
    :param run_id: only sends of this DAG run.
    """

    search: str = ""
    state: str | None = None
    campaign: str | None = None
    account: str | None = None
    since: date | None = None
    until: date | None = None
    run_id: str | None = None

    @property
    def text(self) -> str:
        return self.search.strip()[:_MAX_SEARCH].lower()


def _conditions(ledger: SendLedger, wanted: SendFilter) -> list[Any]:
    from sqlalchemy import func

    from airflow_provider_connectsafely.ledger.schema import sends

    conditions: list[Any] = []
    if wanted.state:
        conditions.append(sends.c.state == wanted.state)
    if wanted.campaign:
        conditions.append(sends.c.campaign == wanted.campaign)
    if wanted.account:
        conditions.append(sends.c.account == wanted.account)
    if wanted.run_id:
        conditions.append(sends.c.run_id == wanted.run_id)
    if wanted.since:
        conditions.append(sends.c.updated_at >= _midnight(wanted.since))
    if wanted.until:
        conditions.append(sends.c.updated_at < _midnight(wanted.until + timedelta(days=1)))
    if wanted.text:
        conditions.append(_starts_with(ledger, func.lower(sends.c.recipient), wanted.text))
    return conditions


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def sends_page(
    ledger: SendLedger, wanted: SendFilter | None = None, *, page: int = 1, size: int = 50, ui_root: str = ""
) -> dict[str, Any]:
    """One page of sends, newest first.

    :param wanted: which sends (all when None).
    :param ui_root: the Airflow UI's path prefix, for the links to task instances.

    Every filter is served by an index. The total comes from the kept counts (they are kept
    per UTC day, account, campaign and state); with a search or a run it is counted up to
    :data:`MAX_COUNTED` (``total_capped`` says so).
    """
    from sqlalchemy import func, select

    from airflow_provider_connectsafely.ledger.schema import send_counts as counts
    from airflow_provider_connectsafely.ledger.schema import sends
    from airflow_provider_connectsafely.ledger.store import _entry

    wanted = wanted or SendFilter()
    page = max(page, 1)
    size = min(max(size, 1), MAX_PAGE_SIZE)
    conditions = _conditions(ledger, wanted)
    rows = (
        select(sends)
        .where(*conditions)
        .order_by(sends.c.updated_at.desc(), sends.c.dedupe_key.desc())
        .limit(size)
        .offset((page - 1) * size)
    )
    if wanted.text or wanted.run_id:
        matching = select(sends.c.dedupe_key).where(*conditions).limit(MAX_COUNTED + 1).subquery()
        total: Any = select(func.count()).select_from(matching)
    else:
        total = select(func.coalesce(func.sum(counts.c.sends), 0))
        if wanted.state:
            total = total.where(counts.c.state == wanted.state)
        if wanted.campaign:
            total = total.where(counts.c.campaign == wanted.campaign)
        if wanted.account:
            total = total.where(counts.c.account == wanted.account)
        if wanted.since:
            total = total.where(counts.c.day >= wanted.since.isoformat())
        if wanted.until:
            total = total.where(counts.c.day <= wanted.until.isoformat())
    with ledger.engine.connect() as conn:
        entries = [_entry(row) for row in conn.execute(rows).mappings()]
        count = int(conn.execute(total).scalar_one())
        flagged = _on_the_list(conn, [person_of(entry) for entry in entries])
    capped = count > MAX_COUNTED
    count = min(count, MAX_COUNTED)
    return {
        "page": page,
        "size": size,
        "total": count,
        "total_capped": capped,
        "pages": max((count + size - 1) // size, 1),
        "rows": [
            {**row_json(entry, ui_root), "do_not_contact": person_of(entry) in flagged} for entry in entries
        ],
    }


def person_of(entry: LedgerEntry) -> str | None:
    """The person a send went to, as the do-not-contact list keys them; None for a send that
    names only a conversation."""
    from airflow_provider_connectsafely.ledger.suppressions import key_person, recipient_key

    person = key_person(entry.dedupe_key) or recipient_key(entry.recipient)
    return None if person.startswith("urn:li:msg_conversation") else person


def _on_the_list(conn: Any, people: list[str | None]) -> set[str]:
    """Which of ``people`` are on the do-not-contact list everywhere."""
    return set(_listed_sources(conn, [p for p in people if p]))


def do_not_contact(ledger: SendLedger, dedupe_key: str, note: str, added_by: str) -> str | None:
    """Put the person a send went to on the do-not-contact list everywhere (source
    ``manual``, the note as the reason); the person, or None when no send has that key.

    :raises ValueError: the send names no person (only a conversation), or no note.
    """
    if not note.strip():
        raise ValueError("a note is required")
    entry = ledger.get(dedupe_key)
    if entry is None:
        return None
    person = person_of(entry)
    if person is None:
        raise ValueError("this send names a conversation, not a person: add them from the command line")
    ledger.suppress(person, reason=note.strip(), source="manual", created_by=added_by)
    return person


def do_not_contact_enrolled(
    ledger: SendLedger, campaign: str, recipient: str, note: str, added_by: str
) -> str | None:
    """Put a person enrolled in a sequence (one who replied, say) on the do-not-contact list
    everywhere (source ``manual``, the note as the reason); the person, or None when the
    sequence has no such person.

    :param campaign: the sequence's name, or its ``sequence:<name>`` label.
    :raises ValueError: no note.
    """
    from airflow_provider_connectsafely.ledger.sequences import SequenceStore
    from airflow_provider_connectsafely.ledger.suppressions import recipient_key

    if not note.strip():
        raise ValueError("a note is required")
    kind, sep, name = campaign.partition(":")
    name = name if sep and kind == SEQUENCE else campaign
    if recipient not in SequenceStore(ledger).get_many(name, [recipient]):
        return None
    person = recipient_key(recipient)
    ledger.suppress(person, reason=note.strip(), source="manual", created_by=added_by)
    return person


def sends_csv(ledger: SendLedger, wanted: SendFilter | None = None) -> Iterator[str]:
    """Every send the filter matches, newest first, as CSV text in pieces: the columns of
    ``connectsafely-ledger export`` (``ledger_format.EXPORT_COLUMNS``), read a page at a time.

    :param wanted: which sends (all when None).
    """
    import csv
    import io

    from sqlalchemy import and_, or_, select

    from airflow_provider_connectsafely.cli.ledger_format import EXPORT_COLUMNS, csv_row
    from airflow_provider_connectsafely.ledger.schema import sends
    from airflow_provider_connectsafely.ledger.store import _entry

    conditions = _conditions(ledger, wanted or SendFilter())
    order = (sends.c.updated_at.desc(), sends.c.dedupe_key.desc())
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    last: tuple[Any, Any] | None = None
    # Keyset pages along the page's own index, each in a short read: bounded memory on any
    # ledger size and no long transaction (a server-side cursor needs one on PostgreSQL).
    while True:
        query = select(sends).where(*conditions).order_by(*order).limit(_CSV_CHUNK)
        if last is not None:
            query = query.where(
                or_(
                    sends.c.updated_at < last[0],
                    and_(sends.c.updated_at == last[0], sends.c.dedupe_key < last[1]),
                )
            )
        with ledger.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        for row in rows:
            writer.writerow(csv_row(_entry(row)))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        following = (rows[-1]["updated_at"], rows[-1]["dedupe_key"]) if rows else None
        if len(rows) < _CSV_CHUNK or following == last:
            return  # the end (or a page that did not move on: never loop)
        last = following


def funnel(ledger: SendLedger, label: str) -> dict[str, Any]:
    """The funnel of one campaign (its ``label`` from ``campaigns``): see
    :func:`~airflow_provider_connectsafely.ledger.funnel.campaign_funnel`."""
    from airflow_provider_connectsafely.ledger.funnel import campaign_funnel

    return campaign_funnel(ledger, label)


def replies(ledger: SendLedger, campaign: str | None = None, limit: int = REPLIES_SHOWN) -> dict[str, Any]:
    """The latest replies to sequences, newest first: who, campaign, the step that drew it
    (the latest step they got), when, the first line of the text and a link to the
    conversation on LinkedIn.

    :param campaign: only this sequence campaign's (its name, or its ``sequence:<name>`` label).
    :param limit: at most this many.
    """
    from sqlalchemy import select

    from airflow_provider_connectsafely.clock import as_utc
    from airflow_provider_connectsafely.ledger.schema import enrollments as people
    from airflow_provider_connectsafely.ledger.suppressions import recipient_key

    query = (
        select(
            people.c.campaign,
            people.c.recipient,
            people.c.account,
            people.c.step,
            people.c.replied_at,
            people.c.reply_text,
            people.c.conversation_urn,
        )
        .where(people.c.replied_at.is_not(None))
        .order_by(people.c.replied_at.desc(), people.c.recipient)
        .limit(limit)
    )
    if campaign:
        kind, sep, name = campaign.partition(":")
        query = query.where(people.c.campaign == (name if sep and kind == SEQUENCE else campaign))
    with ledger.engine.connect() as conn:
        found = conn.execute(query).all()
        listed = _listed_sources(conn, [recipient_key(row.recipient) for row in found])
    return {
        "replies": [
            {
                "campaign": name,
                "recipient": recipient,
                "account": account,
                "step": step,
                "replied_at": as_utc(at).isoformat(),
                "first_line": first_line(text),
                "conversation_url": conversation_url(urn),
                "do_not_contact": recipient_key(recipient) in listed,
                "opted_out": listed.get(recipient_key(recipient)) == "reply",
            }
            for name, recipient, account, step, at, text, urn in found
        ]
    }


def _listed_sources(conn: Any, people: list[str]) -> dict[str, str]:
    """Which of ``people`` are on the do-not-contact list everywhere, with the source of
    their entry (``reply``: their own reply asked to stop)."""
    from sqlalchemy import select

    from airflow_provider_connectsafely.ledger.schema import suppressions
    from airflow_provider_connectsafely.ledger.suppressions import EVERYWHERE

    wanted = sorted(set(people))
    if not wanted:
        return {}
    query = select(suppressions.c.person, suppressions.c.source).where(
        suppressions.c.person.in_(wanted), suppressions.c.scope == EVERYWHERE
    )
    return {str(person): str(source) for person, source in conn.execute(query)}


def first_line(text: str | None, width: int = 200) -> str:
    """The first non-blank line of a reply, cut to ``width`` characters (``...`` when cut)."""
    line = next((part.strip() for part in (text or "").splitlines() if part.strip()), "")
    return line if len(line) <= width else line[: width - 3] + "..."


def conversation_url(urn: str | None) -> str | None:
    """The conversation on LinkedIn (``https://www.linkedin.com/messaging/thread/<id>/``) from
    its URN (``urn:li:msg_conversation:(urn:li:fsd_profile:...,2-...)`` or
    ``urn:li:msg_conversation:2-...``); None when there is none."""
    if not urn:
        return None
    thread = urn.rstrip(")").rsplit(",", 1)[-1] if "," in urn else urn.rsplit(":", 1)[-1]
    thread = thread.strip()
    if not thread or thread.startswith("urn"):
        return None
    return f"{LINKEDIN_THREAD}{quote(thread, safe='=-_')}/"


def _starts_with(ledger: SendLedger, column: Any, text: str) -> Any:
    # SQLite uses an expression index for a range, not for LIKE; PostgreSQL's text_pattern_ops
    # index serves LIKE 'text%' in any collation.
    if ledger.engine.dialect.name == "sqlite":
        return (column >= text) & (column < text + "\U0010ffff")
    return column.startswith(text, autoescape=True)


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def row_json(entry: LedgerEntry, ui_root: str = "") -> dict[str, Any]:
    """One send for the table; never the stored API answer (it is not needed here)."""
    parsed = campaign_of(entry.dedupe_key)
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
