"""Read-only queries over the send ledger, for listing, exporting and statistics.

Nothing here writes, and nothing creates or migrates the schema (unlike ``SendLedger``'s own
reads): check :func:`schema_version` first and read only a ledger at ``migrations.HEAD``.
No Airflow imports; SQLAlchemy loads when a query runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely.clock import as_utc
from airflow_provider_connectsafely.ledger.records import (
    BATCH,
    SEND_STATES,
    SENT,
    SEQUENCE,
    LedgerEntry,
    campaign_of,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from airflow_provider_connectsafely.ledger.store import SendLedger

__all__ = ["BATCH", "SEND_STATES", "SEQUENCE", "campaign_of"]


@dataclass(frozen=True)
class Filters:
    """Which ledger rows a query reads; every filter given must match.

    :param states: only rows in one of these states (all states when empty).
    :param campaign: only keys of this batch or sequence campaign (``campaign:<c>:...`` or
        ``sequence:<c>:...``).
    :param account: only sends counted against this LinkedIn account.
    :param since: only rows updated at or after this time (naive means UTC).
    """

    states: tuple[str, ...] = ()
    campaign: str | None = None
    account: str | None = None
    since: datetime | None = None


@dataclass
class AccountStats:
    """Sends of one LinkedIn account.

    :param account: the account (``default`` for sends that name none).
    :param sent_today: sends recorded ``sent`` since the start of the day asked for.
    :param states: how many rows are in each send state, all time.
    """

    account: str
    sent_today: int = 0
    states: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEND_STATES, 0))


@dataclass
class CampaignStats:
    """The sends (and for sequences, the enrolments) of one campaign.

    :param campaign: the campaign's name, as in its dedupe keys.
    :param kind: ``batch`` or ``sequence``.
    :param states: how many sends are in each send state.
    :param enrollments: for a sequence, how many enrolments are in each enrolment state.
    """

    campaign: str
    kind: str
    states: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEND_STATES, 0))
    enrollments: dict[str, int] | None = None


def schema_version(engine: Engine) -> str | None:
    """The ledger's schema version without changing anything; None when the database holds
    no ledger at all (see :func:`has_sends_table`) or one written by release 0.1.

    :param engine: the ledger's database (any engine: a plain one writes nothing to SQLite).
    """
    from airflow_provider_connectsafely.ledger.migrations import current_version

    return current_version(engine)


def applied_caps(ledger: SendLedger, *, since: datetime, until: datetime) -> dict[tuple[str, str], int]:
    """``{(account, kind): cap}``: the cap the tasks recorded for each account's latest cap
    window that started between ``since`` and ``until`` (a few rows: one per account, kind and
    window).

    :param ledger: a ledger at ``migrations.HEAD``.
    :param since: the earliest window start to consider (e.g. this week's Monday).
    :param until: now.
    """
    from sqlalchemy import select

    from airflow_provider_connectsafely.ledger.schema import caps

    query = (
        select(caps.c.account, caps.c.kind, caps.c.cap)
        .where(caps.c.window_start >= as_utc(since), caps.c.window_start <= as_utc(until))
        .order_by(caps.c.window_start)
    )
    with ledger.engine.connect() as conn:
        return {(str(account), str(kind)): int(cap) for account, kind, cap in conn.execute(query)}


class LedgerNotReadable(Exception):
    """The database holds no ledger, cannot be read, or holds one at another schema version.

    :param reason: ``missing``, ``unreadable`` or ``version``.
    :param message: what is wrong, naming the ledger's location (never its password).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_readable(engine: Engine, where: str) -> None:
    """Fail unless ``engine`` holds a ledger at this provider's schema version, changing
    nothing (readers such as the CLI and the UI page never migrate a ledger).

    :param engine: the ledger's database (a plain engine writes nothing to SQLite).
    :param where: the ledger's location as shown in messages.
    :raises LedgerNotReadable: naming the location and, for a version mismatch, both versions.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from airflow_provider_connectsafely.ledger.migrations import HEAD

    try:
        version = schema_version(engine)
        if version is None and not has_sends_table(engine):
            raise LedgerNotReadable("missing", f"no ledger at {where} (no connectsafely_sends table)")
    except SQLAlchemyError as exc:
        raise LedgerNotReadable(
            "unreadable", f"cannot read the ledger at {where}: {first_line(exc)}"
        ) from exc
    if version != HEAD:
        raise LedgerNotReadable(
            "version",
            f"the ledger at {where} has schema version {version or '0001'}, this provider's is {HEAD}",
        )


def first_line(exc: BaseException) -> str:
    """An error's first line, without SQLAlchemy's statement and parameters."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return text[0] if text else type(inner).__name__


def has_sends_table(engine: Engine) -> bool:
    """Whether the database holds a ledger at all (its ``connectsafely_sends`` table).

    :param engine: the ledger's database.
    """
    from sqlalchemy import inspect

    from airflow_provider_connectsafely.ledger.schema import sends

    return bool(inspect(engine).has_table(sends.name))


def list_entries(
    ledger: SendLedger, filters: Filters, *, limit: int | None = None, newest_first: bool = True
) -> list[LedgerEntry]:
    """The rows that match, newest (or oldest) ``updated_at`` first.

    :param ledger: the ledger to read.
    :param filters: which rows.
    :param limit: at most this many (all when None).
    :param newest_first: the order; oldest first when False.
    """
    return list(iter_entries(ledger, filters, limit=limit, newest_first=newest_first))


def iter_entries(
    ledger: SendLedger, filters: Filters, *, limit: int | None = None, newest_first: bool = True
) -> Iterator[LedgerEntry]:
    """Like :func:`list_entries`, one row at a time (for exports of any size).

    :param ledger: the ledger to read.
    :param filters: which rows.
    :param limit: at most this many (all when None).
    :param newest_first: the order; oldest first when False.
    """
    from sqlalchemy import select

    from airflow_provider_connectsafely.ledger.schema import sends
    from airflow_provider_connectsafely.ledger.store import _entry

    order = sends.c.updated_at.desc() if newest_first else sends.c.updated_at.asc()
    query = _where(select(sends), filters).order_by(order, sends.c.dedupe_key)
    if limit is not None:
        query = query.limit(limit)
    with ledger.engine.connect() as conn:
        for row in conn.execute(query).mappings():
            yield _entry(row)


def count_entries(ledger: SendLedger, filters: Filters) -> int:
    """How many rows match.

    :param ledger: the ledger to read.
    :param filters: which rows.
    """
    from sqlalchemy import func, select

    from airflow_provider_connectsafely.ledger.schema import sends

    query = _where(select(func.count()).select_from(sends), filters)
    with ledger.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def account_stats(ledger: SendLedger, filters: Filters, *, day_start: datetime) -> list[AccountStats]:
    """Per account: sends ``sent`` since ``day_start``, and rows per state; by account name.

    :param ledger: the ledger to read.
    :param filters: which rows (``since`` and ``states`` apply to the totals too).
    :param day_start: where "today" starts (00:00 UTC, as the daily cap counts).
    """
    from sqlalchemy import func, select

    from airflow_provider_connectsafely.ledger.schema import sends

    found: dict[str, AccountStats] = {}
    totals = _where(select(sends.c.account, sends.c.state, func.count()), filters)
    today = _where(select(sends.c.account, func.count()), filters)
    today = today.where(sends.c.state == SENT, sends.c.updated_at >= as_utc(day_start))
    with ledger.engine.connect() as conn:
        for account, state, count in conn.execute(totals.group_by(sends.c.account, sends.c.state)):
            stats = found.setdefault(account, AccountStats(account))
            stats.states[state] = stats.states.get(state, 0) + int(count)
        for account, count in conn.execute(today.group_by(sends.c.account)):
            found.setdefault(account, AccountStats(account)).sent_today = int(count)
    return [found[name] for name in sorted(found)]


def campaign_stats(ledger: SendLedger, filters: Filters) -> list[CampaignStats]:
    """Per batch or sequence campaign: sends per state, and a sequence's enrolments per
    state; by campaign name. Keys of other forms (single sends) are left out.

    :param ledger: the ledger to read.
    :param filters: which send rows; ``campaign`` and ``account`` apply to enrolments too.
    """
    from sqlalchemy import func, select

    from airflow_provider_connectsafely.ledger.schema import enrollments, sends

    found: dict[tuple[str, str], CampaignStats] = {}
    label = sends.c.campaign
    per_state = _where(select(label, sends.c.state, func.count()), filters).where(label.is_not(None))
    people = select(enrollments.c.campaign, enrollments.c.state, func.count())
    if filters.campaign is not None:
        people = people.where(enrollments.c.campaign == filters.campaign)
    if filters.account is not None:
        people = people.where(enrollments.c.account == filters.account)
    with ledger.engine.connect() as conn:
        for text, state, count in conn.execute(per_state.group_by(label, sends.c.state)):
            kind, _, name = str(text).partition(":")
            stats = found.setdefault((kind, name), CampaignStats(name, kind))
            stats.states[state] = stats.states.get(state, 0) + int(count)
        for campaign, state, count in conn.execute(
            people.group_by(enrollments.c.campaign, enrollments.c.state)
        ):
            stats = found.setdefault((SEQUENCE, campaign), CampaignStats(campaign, SEQUENCE))
            if stats.enrollments is None:
                stats.enrollments = _enrollment_counts()
            stats.enrollments[state] = stats.enrollments.get(state, 0) + int(count)
    for stats in found.values():
        if stats.kind == SEQUENCE and stats.enrollments is None:
            stats.enrollments = _enrollment_counts()
    return [found[key] for key in sorted(found, key=lambda k: (k[1], k[0]))]


def _enrollment_counts() -> dict[str, int]:
    from airflow_provider_connectsafely.ledger.sequences import STATES

    return dict.fromkeys(STATES, 0)


def _where(query: Any, filters: Filters) -> Any:
    from airflow_provider_connectsafely.ledger.schema import sends

    if filters.states:
        query = query.where(sends.c.state.in_(filters.states))
    if filters.campaign is not None:
        labels = [f"{kind}:{filters.campaign}" for kind in (BATCH, SEQUENCE)]
        query = query.where(sends.c.campaign.in_(labels))
    if filters.account is not None:
        query = query.where(sends.c.account == filters.account)
    if filters.since is not None:
        query = query.where(sends.c.updated_at >= as_utc(filters.since))
    return query


def variant_counts(
    ledger: SendLedger, kind: str, campaign: str
) -> list[tuple[int | None, str | None, int, int | None]]:
    """``(step, variant, sent, replied)`` of one campaign, by step then variant: messages
    recorded ``sent`` with each variant (sends of a step without variants have variant None;
    rows written before schema 0008 have neither), and, for a sequence, how many of those
    people replied to that step (an enrolment ``replied`` whose last step sent is that one;
    replies stop the sequence, so the reply answers the last message). A batch records no
    replies: ``replied`` is None.

    :param ledger: a ledger at ``migrations.HEAD``.
    :param kind: ``batch`` or ``sequence``.
    :param campaign: the campaign's name.
    """
    from sqlalchemy import String, and_, cast, func, literal, select

    from airflow_provider_connectsafely.ledger.schema import enrollments, sends
    from airflow_provider_connectsafely.ledger.sequences import REPLIED

    label = f"{kind}:{campaign}"
    sent_query = (
        select(sends.c.step, sends.c.variant, func.count())
        .where(sends.c.campaign == label, sends.c.state == SENT)
        .where((sends.c.variant.is_not(None)) | (sends.c.step.is_not(None)))
        .group_by(sends.c.step, sends.c.variant)
    )
    replies: dict[tuple[int | None, str | None], int] = {}
    with ledger.engine.connect() as conn:
        found = [(step, variant, int(n)) for step, variant, n in conn.execute(sent_query)]
        if kind == SEQUENCE:
            # The step a person replied to is the send keyed sequence:<campaign>:<step>:<recipient>.
            key = (
                literal(f"sequence:{campaign}:")
                + cast(enrollments.c.step, String)
                + ":"
                + enrollments.c.recipient
            )
            reply_query = (
                select(sends.c.step, sends.c.variant, func.count())
                .select_from(enrollments.join(sends, and_(sends.c.dedupe_key == key, sends.c.state == SENT)))
                .where(enrollments.c.campaign == campaign, enrollments.c.state == REPLIED)
                .group_by(sends.c.step, sends.c.variant)
            )
            replies = {(step, variant): int(n) for step, variant, n in conn.execute(reply_query)}
    rows = [
        (step, variant, sent, replies.get((step, variant), 0) if kind == SEQUENCE else None)
        for step, variant, sent in found
    ]
    return sorted(rows, key=lambda row: (row[0] or 0, row[1] or ""))
