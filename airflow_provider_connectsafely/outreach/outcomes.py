"""How a send ended: the outcome statuses, defined once, and the record of one outcome.

No Airflow imports here. Operators return these (as dicts) to XCom for CRM write-back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_provider_connectsafely import errors

# sent, failed and unknown are the ledger's states of the same names: defined there, once.
from airflow_provider_connectsafely.ledger.records import FAILED, SENT, UNKNOWN

#: Already sent under this key (safe to treat as contacted), or the person is on the
#: do-not-contact list (the reason starts with ``suppressed``; ``Outcome.suppressed``).
SKIPPED = "skipped"
#: Another task holds the key and is sending it right now.
IN_FLIGHT = "in_flight"
#: A batch stopped before reaching this recipient.
NOT_ATTEMPTED = "not_attempted"
#: A dry run would send this now.
WOULD_SEND = "would_send"
#: Every status, in the order summaries list them.
STATUSES = (SENT, SKIPPED, IN_FLIGHT, FAILED, UNKNOWN, NOT_ATTEMPTED, WOULD_SEND)


@dataclass
class Outcome:
    """How one send ended.

    :param status: one of :data:`STATUSES`.
    :param recipient: the recipient as sent.
    :param dedupe_key: the ledger key, if the ledger was used.
    :param response: the API's answer (the recorded one when skipped as already sent).
    :param reason: why it was skipped, failed or is unknown.
    :param error: the provider error behind a failure.
    :param message: the rendered text (dry runs only).
    :param variant: the message variant chosen for the recipient (None without variants).
    :param account: the account it would go from (dry runs only).
    :param suppressed: skipped because the person is on the do-not-contact list.
    """

    status: str
    recipient: str
    dedupe_key: str | None = None
    response: dict[str, Any] | None = None
    reason: str | None = None
    error: errors.ConnectSafelyError | None = field(default=None, repr=False)
    message: str | None = None
    variant: str | None = None
    account: str | None = None
    suppressed: bool = False

    @property
    def stops_batch(self) -> bool:
        """No other recipient can succeed after this error (bad key, no subscription...)."""
        return self.error is not None and self.error.stops_batch

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"recipient": self.recipient, "status": self.status}
        if self.dedupe_key:
            data["dedupe_key"] = self.dedupe_key
        answer = self.response or {}
        for name in ("recipientProfileUrn", "conversationUrn", "threadId"):
            if answer.get(name):
                data[name] = answer[name]
        if self.reason:
            data["reason"] = self.reason
        if self.error is not None:
            data["error_type"] = type(self.error).__name__
        if self.message is not None:
            data["message"] = self.message
        if self.variant is not None:
            data["variant"] = self.variant
        if self.account is not None:
            data["account"] = self.account
        return data


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    """Outcomes per status, every status present (0 when none)."""
    totals = dict.fromkeys(STATUSES, 0)
    for outcome in outcomes:
        totals[outcome.status] += 1
    return totals


def counts_text(totals: dict[str, Any]) -> str:
    """``sent 3, failed 1``: the non-zero counts, in :data:`STATUSES` order."""
    return ", ".join(f"{name} {totals[name]}" for name in STATUSES if totals.get(name))
