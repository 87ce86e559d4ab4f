"""Deliberate defects for proving that the soak harness catches them (``--inject-defect``).

Each one is a monkeypatch applied in the worker, before its DAG runs; the harness must then
report a violation of the invariant named in :data:`DEFECTS`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

#: defect -> the invariant that must catch it
DEFECTS = {
    "removed-claim": "no-step-twice",
    "cap-local-time": "daily-cap",
    "follow-up-wrong-account": "same-account",
    "claim-ignores-suppression": "opt-out",
}


def inject_defect(name: str) -> None:
    if name not in DEFECTS:
        raise ValueError(f"unknown defect {name!r}; known: {', '.join(DEFECTS)}")
    {
        "removed-claim": _removed_claim,
        "cap-local-time": _cap_local_time,
        "follow-up-wrong-account": _follow_up_wrong_account,
        "claim-ignores-suppression": _claim_ignores_suppression,
    }[name]()


def _removed_claim() -> None:
    """The claim before the send is gone: the ledger's row is written only once the API has
    answered (a claim taken then, and the outcome recorded under it). Nothing then marks a
    send in progress, so a worker killed between the answer and the write leaves no trace."""
    from airflow_provider_connectsafely.ledger.records import Claim
    from airflow_provider_connectsafely.ledger.store import SendLedger

    claim, finish = SendLedger.claim, SendLedger._finish
    waiting: dict[str, Any] = {}

    def claim_nothing(self: SendLedger, send: Any, *, take_over: Any = ()) -> Claim:
        waiting[send.dedupe_key] = send
        return Claim(claimed=True, token="no-claim")

    def finish_with_late_claim(self: SendLedger, dedupe_key: str, token: str, **values: Any) -> None:
        send = waiting.pop(dedupe_key, None)
        if send is not None:
            late = claim(self, send, take_over=("pending", "unknown", "sent", "failed"))
            token = late.token or token
        finish(self, dedupe_key, token, **values)

    SendLedger.claim = claim_nothing  # type: ignore[method-assign]
    SendLedger._finish = finish_with_late_claim  # type: ignore[method-assign]


def _cap_local_time() -> None:
    """The daily cap's window is the day on the clock of Los Angeles instead of UTC."""
    from zoneinfo import ZoneInfo

    from airflow_provider_connectsafely.outreach import caps

    zone = ZoneInfo("America/Los_Angeles")

    def window(now: datetime) -> tuple[datetime, datetime]:
        local = now.astimezone(zone)
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.astimezone(timezone.utc), (start + timedelta(days=1)).astimezone(timezone.utc)

    caps.window = window


def _follow_up_wrong_account() -> None:
    """A message after the first step (the invitation) is sent from the next account of the
    campaign instead of the one that contacted the person."""
    from population import ACCOUNTS

    from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator

    original = LinkedInSequenceOperator._build

    def build(self: Any, enrollment: Any, message: str, subject: str | None) -> Any:
        request = original(self, enrollment, message, subject)
        if enrollment.step >= 1 and enrollment.account in ACCOUNTS:
            other = ACCOUNTS[(ACCOUNTS.index(enrollment.account) + 1) % len(ACCOUNTS)]
            request = self.hook.build_request(
                endpoint="conversations",
                message=message,
                recipient_profile_id=enrollment.recipient,
                account_id=other,
            )
        return request

    LinkedInSequenceOperator._build = build  # type: ignore[method-assign]


def _claim_ignores_suppression() -> None:
    """The claim no longer checks the do-not-contact list (opt-outs are still recorded)."""
    from sqlalchemy import false

    from airflow_provider_connectsafely.ledger import suppressions

    suppressions.blocking = lambda *args, **kwargs: false()
