"""Plain records the ledger reads and writes (no SQLAlchemy, no Airflow)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.suppressions import Suppression

#: A send's state in the ledger; defined here once, for every layer and surface.
SendState = Literal["pending", "sent", "failed", "unknown"]
PENDING, SENT, FAILED, UNKNOWN = get_args(SendState)
#: The send states, in the order reports show them.
SEND_STATES: tuple[SendState, ...] = get_args(SendState)
#: What a person may settle a pending or unknown send as.
SettleState = Literal["sent", "failed"]
SETTLE_STATES: tuple[SettleState, ...] = get_args(SettleState)
#: Account key for sends that name no account (the API's default account).
DEFAULT_ACCOUNT = "default"
#: What a row sends: a message (the daily cap counts these) or a connection request (the weekly
#: connect cap counts these).
MESSAGE = "message"
CONNECT = "connect"
#: Campaign kinds, named by their dedupe keys' prefixes: ``campaign:<c>:<recipient>`` for a
#: batch, ``sequence:<c>:<step>:<recipient>`` for a sequence.
BATCH = "batch"
SEQUENCE = "sequence"
KEY_PREFIXES = {BATCH: "campaign", SEQUENCE: "sequence"}


def campaign_of(dedupe_key: str) -> tuple[str, str] | None:
    """``(kind, campaign)`` of a batch or sequence key (kind ``batch`` or ``sequence``); None
    for other keys.

    The recipient at the end of a key is a profile ID (no colon) or a URN (``urn:...``), so
    a campaign name may itself hold colons.

    :param dedupe_key: ``campaign:<c>:<recipient>`` or ``sequence:<c>:<step>:<recipient>``.
    """
    prefix, sep, rest = dedupe_key.partition(":")
    kind = {value: name for name, value in KEY_PREFIXES.items()}.get(prefix)
    if not sep or kind is None:
        return None
    urn = rest.find(":urn:")
    head = rest[:urn] if urn >= 0 else rest.rsplit(":", 1)[0] if ":" in rest else ""
    if kind == SEQUENCE:
        head, _, step = head.rpartition(":")
        if not step.isdigit():
            return None
    return (kind, head) if head else None


def campaign_label(dedupe_key: str) -> str | None:
    """The ledger's ``campaign`` column for a key: ``<kind>:<campaign>`` (``batch:spring``,
    ``sequence:onboard``), or None for a key of no campaign.

    :param dedupe_key: the send's dedupe key.
    """
    parsed = campaign_of(dedupe_key)
    return f"{parsed[0]}:{parsed[1]}" if parsed else None


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
    :param kind: ``message`` (counted by the daily cap) or ``connect`` (a connection request,
        counted by the weekly connect cap).
    :param step: a sequence's step number (None outside sequences).
    :param variant: the message variant chosen for the recipient (None without variants).
    """

    dedupe_key: str
    account: str
    recipient: str
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    map_index: int | None = None
    kind: str = MESSAGE
    step: int | None = None
    variant: str | None = None


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the ledger.

    :param conversation_urn: the conversation a sent message landed in, when the API said.
    :param thread_id: that conversation's thread, when the API said.
    :param message_urn: the sent message, when the API said.
    :param settled_by: who settled a ``pending`` or ``unknown`` send by hand.
    :param settled_at: when it was settled by hand.
    :param settle_note: the note given when settling it.
    :param kind: ``message`` or ``connect``.
    :param campaign: ``<kind>:<campaign>`` read from the key (``batch:spring``), or None.
    :param step: a sequence send's step number.
    :param variant: the message variant sent.
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
    kind: str = MESSAGE
    campaign: str | None = None
    step: int | None = None
    variant: str | None = None

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
    :param suppressed: the do-not-contact entry that refused the claim, if one did.
    """

    claimed: bool
    token: str | None = None
    entry: LedgerEntry | None = None
    suppressed: Suppression | None = None
