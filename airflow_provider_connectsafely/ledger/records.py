"""Plain records the ledger reads and writes (no SQLAlchemy, no Airflow)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
UNKNOWN = "unknown"
#: Account key for sends that name no account (the API's default account).
DEFAULT_ACCOUNT = "default"


@dataclass(frozen=True)
class NewSend:
    """A send about to be attempted.

    :param dedupe_key: the identity of the send; one message per key, ever.
    :param account: the LinkedIn account it counts against (``default`` when unnamed).
    :param recipient: the recipient's profile ID or URN.
    :param dag_id: provenance, for people reading the ledger.
    :param task_id: provenance.
    :param run_id: provenance.
    :param map_index: provenance.
    """

    dedupe_key: str
    account: str
    recipient: str
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    map_index: int | None = None


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the ledger.

    :param conversation_urn: the conversation a sent message landed in, when the API said.
    :param thread_id: that conversation's thread, when the API said.
    :param message_urn: the sent message, when the API said.
    :param settled_by: who settled a ``pending`` or ``unknown`` send by hand.
    :param settled_at: when it was settled by hand.
    :param settle_note: the note given when settling it.
    """

    dedupe_key: str
    state: str
    account: str
    recipient: str
    attempts: int
    retryable: bool
    error: str | None
    recipient_urn: str | None
    response: dict[str, Any] | None
    dag_id: str | None
    task_id: str | None
    run_id: str | None
    map_index: int | None
    created_at: datetime
    updated_at: datetime
    conversation_urn: str | None = None
    thread_id: str | None = None
    message_urn: str | None = None
    settled_by: str | None = None
    settled_at: datetime | None = None
    settle_note: str | None = None

    @property
    def may_send_again(self) -> bool:
        """A failure that proves nothing was delivered may be claimed again."""
        return self.state == FAILED and self.retryable


@dataclass(frozen=True)
class Claim:
    """The answer to a claim: either this caller owns the send now, or the row as it is.

    :param claimed: True when the caller must send (and then record the outcome).
    :param token: the claim's token, needed to record the outcome.
    :param entry: the existing row when the claim was refused.
    """

    claimed: bool
    token: str | None = None
    entry: LedgerEntry | None = None
