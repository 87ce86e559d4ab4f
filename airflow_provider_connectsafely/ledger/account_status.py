"""LinkedIn accounts a task found unavailable (401/403, or a status other than AVAILABLE),
kept in the ledger so that the ledger page can mark them with when. No Airflow imports;
SQLAlchemy loads when a function runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from airflow_provider_connectsafely.clock import as_utc

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.store import SendLedger

_MAX_REASON = 2000


def mark_unavailable(ledger: SendLedger, account: str, reason: str) -> None:
    """Record that ``account`` is unavailable for ``reason`` (never a secret: the error's
    type and message); ``since`` stays the first time it was found so, ``seen_at`` moves on.

    :param ledger: the send ledger.
    :param account: the LinkedIn account ID (``default`` for the API key's own account).
    :param reason: what the task found.
    """
    from sqlalchemy import update

    from airflow_provider_connectsafely.ledger.schema import account_status as table

    ledger.ensure_schema()
    now = ledger.clock()
    row = {"account": account, "reason": reason[:_MAX_REASON], "since": now, "seen_at": now}
    with ledger.engine.begin() as conn:
        if conn.execute(ledger.insert_if_absent(table, row, "account")).first() is None:
            conn.execute(
                update(table).where(table.c.account == account).values(reason=row["reason"], seen_at=now)
            )


def mark_available(ledger: SendLedger, accounts: Iterable[str]) -> None:
    """Forget that these accounts were unavailable (a task found them available again).

    :param ledger: the send ledger.
    :param accounts: the accounts found AVAILABLE.
    """
    from sqlalchemy import delete

    from airflow_provider_connectsafely.ledger.schema import account_status as table

    names = list(accounts)
    if not names:
        return
    ledger.ensure_schema()
    with ledger.engine.begin() as conn:
        conn.execute(delete(table).where(table.c.account.in_(names)))


def unavailable(ledger: SendLedger) -> dict[str, tuple[str, datetime, datetime]]:
    """``{account: (reason, since, seen_at)}`` of the accounts recorded unavailable (read-only:
    the ledger must be at ``migrations.HEAD``).

    :param ledger: the send ledger.
    """
    from sqlalchemy import select

    from airflow_provider_connectsafely.ledger.schema import account_status as table

    query = select(table.c.account, table.c.reason, table.c.since, table.c.seen_at)
    with ledger.engine.connect() as conn:
        return {
            str(account): (str(reason), as_utc(since), as_utc(seen))
            for account, reason, since, seen in conn.execute(query)
        }
