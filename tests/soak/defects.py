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
}


def inject_defect(name: str) -> None:
    if name not in DEFECTS:
        raise ValueError(f"unknown defect {name!r}; known: {', '.join(DEFECTS)}")
    {
        "removed-claim": _removed_claim,
        "cap-local-time": _cap_local_time,
        "follow-up-wrong-account": _follow_up_wrong_account,
    }[name]()


def _removed_claim() -> None:
    """The claim no longer guards the send: whatever the key's row says (an attempt pending
    or unknown after a crash), the caller is told to go ahead."""
    import uuid

    from sqlalchemy import update

    from airflow_provider_connectsafely.ledger.records import PENDING, Claim
    from airflow_provider_connectsafely.ledger.schema import sends
    from airflow_provider_connectsafely.ledger.store import SendLedger

    original = SendLedger.claim

    def claim(self: SendLedger, send: Any, *, take_over: Any = ()) -> Claim:
        result = original(self, send, take_over=take_over)
        if result.claimed:
            return result
        token = str(uuid.uuid4())
        with self.engine.begin() as conn:
            conn.execute(
                update(sends)
                .where(sends.c.dedupe_key == send.dedupe_key)
                .values(state=PENDING, claim_token=token)
            )
        return Claim(claimed=True, token=token)

    SendLedger.claim = claim  # type: ignore[method-assign]


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
    """A follow-up (a step after the first message) is sent from the next account of the
    campaign instead of the one that contacted the person."""
    from population import ACCOUNTS

    from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator

    original = LinkedInSequenceOperator._build

    def build(self: Any, enrollment: Any, message: str, subject: str | None) -> Any:
        request = original(self, enrollment, message, subject)
        if enrollment.step >= 2 and enrollment.account in ACCOUNTS:
            other = ACCOUNTS[(ACCOUNTS.index(enrollment.account) + 1) % len(ACCOUNTS)]
            request = self.hook.build_request(
                endpoint="conversations",
                message=message,
                recipient_profile_id=enrollment.recipient,
                account_id=other,
            )
        return request

    LinkedInSequenceOperator._build = build  # type: ignore[method-assign]
