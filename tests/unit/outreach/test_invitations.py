"""Connect steps: how often a sequence reads whether an invitation was accepted."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from airflow_provider_connectsafely.ledger.sequences import Enrollment
from airflow_provider_connectsafely.outreach.invitations import (
    GAVE_UP,
    WAITING,
    Invitations,
    next_acceptance_read,
)
from airflow_provider_connectsafely.outreach.steps import SequenceStep

INVITED = datetime(2030, 2, 4, 9, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def test_reads_are_spaced_by_a_quarter_of_the_invitations_age_and_at_most_a_day():
    assert next_acceptance_read(None, INVITED) is None
    assert next_acceptance_read(INVITED + 4 * HOUR, INVITED) == INVITED + 5 * HOUR
    assert next_acceptance_read(INVITED + 10 * 24 * HOUR, INVITED) == INVITED + 11 * 24 * HOUR


class Reader:
    def __init__(self, accepted_at: datetime | None = None) -> None:
        self.calls = 0
        self.accepted_at = accepted_at
        self.now = INVITED

    def __call__(self, recipient: str, account: str | None):
        self.calls += 1
        return SimpleNamespace(connected=self.accepted_at is not None and self.now >= self.accepted_at)


def hourly(reader: Reader, step: SequenceStep, days: int) -> tuple[int, datetime | None, str | None]:
    """An hourly sequence's checks over ``days``: reads, when acceptance was seen, last reason."""
    enrollment = Enrollment("c", "ann", "acct", step=1, last_sent_at=INVITED, enrolled_at=INVITED)
    invitations = Invitations(
        sender=None,  # type: ignore[arg-type]
        build=None,  # type: ignore[arg-type]
        relationship=reader,
        checked=lambda e, at: setattr(e, "checked_at", at),
    )
    reason = None
    for hour in range(1, days * 24 + 1):
        reader.now = INVITED + hour * HOUR
        reason = invitations.waiting(enrollment, step, reader.now)
        if reason is None:
            return reader.calls, reader.now, None
        if reason.startswith(GAVE_UP):
            break
    return reader.calls, None, reason


def test_an_hourly_sequence_reads_a_pending_invitation_a_few_dozen_times_in_three_weeks():
    never = Reader()
    calls, seen, reason = hourly(never, SequenceStep(action="connect", give_up_after=timedelta(days=21)), 22)
    assert seen is None and reason is not None and reason.startswith(GAVE_UP)
    assert 25 <= calls <= 45  # against 504 hourly reads


def test_acceptance_is_seen_within_a_quarter_of_the_invitations_age():
    for accepted_after in (2 * HOUR, 30 * HOUR, 9 * 24 * HOUR):
        reader = Reader(accepted_at=INVITED + accepted_after)
        _calls, seen, _reason = hourly(reader, SequenceStep(action="connect"), 30)
        assert seen is not None
        assert seen - reader.accepted_at <= min(accepted_after / 4, 24 * HOUR) + HOUR


def test_the_reason_says_when_the_next_check_is():
    reader = Reader()
    enrollment = Enrollment("c", "ann", "acct", step=1, last_sent_at=INVITED, checked_at=INVITED + 8 * HOUR)
    invitations = Invitations(None, None, reader)  # type: ignore[arg-type]
    reason = invitations.waiting(enrollment, SequenceStep(action="connect"), INVITED + 9 * HOUR)
    assert reason == f"{WAITING}; next check after 2030-02-04T19:00+00:00"
    assert reader.calls == 0
