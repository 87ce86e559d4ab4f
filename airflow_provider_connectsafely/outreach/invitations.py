"""A sequence's connect steps: the invitation, and waiting until it is accepted.

No Airflow imports here. The invitation goes through a
:class:`~airflow_provider_connectsafely.outreach.connections.ConnectSender` (the ledger's claim
protocol, rows of kind ``connect``, the weekly cap, and a skip for people already connected
or invited); acceptance is read with one relationship call per person whose next message is
due, and only then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.ledger.records import CONNECT, DEFAULT_ACCOUNT, NewSend

if TYPE_CHECKING:
    from airflow_provider_connectsafely.api.connect import ConnectRequest, Relationship
    from airflow_provider_connectsafely.ledger.sequences import Enrollment
    from airflow_provider_connectsafely.outreach.connections import ConnectSender
    from airflow_provider_connectsafely.outreach.outcomes import Outcome
    from airflow_provider_connectsafely.outreach.steps import SequenceStep

    RunIds = tuple[str, str, str, int]


@dataclass
class Invitations:
    """Sends a sequence's connection requests and reads whether they were accepted.

    :param sender: sends each invitation at most once, within the weekly cap.
    :param build: ``(enrollment, note) -> ConnectRequest`` (the hook's validation).
    :param relationship: ``(recipient, account ID or None) -> Relationship``.
    :param checked: records when a person's acceptance was read (the sequence store's
        ``mark_checked``), so the next read can wait.
    """

    sender: ConnectSender
    build: Callable[[Enrollment, str | None], ConnectRequest]
    relationship: Callable[[str, str | None], Relationship]
    checked: Callable[[Enrollment, datetime], object] | None = None

    def send(self, enrollment: Enrollment, key: str, note: str | None, run: RunIds | None) -> Outcome:
        """Invite ``enrollment``'s person under ``key``: ``sent``, ``skipped`` (connected or
        invited already), ``failed`` or ``unknown``.

        :raises WaitRequired: the account's weekly cap is reached, or the API asks to wait.
        """
        request = self.build(enrollment, note)
        dag_id, task_id, run_id, map_index = run or (None, None, None, None)
        spec = NewSend(
            key, enrollment.account, request.recipient, dag_id, task_id, run_id, map_index, kind=CONNECT
        )
        return self.sender.send(request, spec)

    def waiting(self, enrollment: Enrollment, invite: SequenceStep, now: datetime) -> str | None:
        """Why a message after a connect step must wait, or None once the person is connected.

        Reads are spaced out: after a read at an invitation's age ``A`` the next comes at
        ``A * (1 + ACCEPT_RECHECK_SHARE)``, and at least every ``ACCEPT_RECHECK_MAX`` (one day),
        so an hourly sequence asks about each pending invitation a few dozen times in three
        weeks instead of hundreds. The read before giving up is never skipped.

        :returns: None (connected), or the reason; :data:`GAVE_UP` starts the reason when
            ``invite.give_up_after`` has passed since the invitation.
        """
        from airflow_provider_connectsafely import errors
        from airflow_provider_connectsafely.outreach.delivery import WaitRequired

        invited_at = enrollment.last_sent_at or enrollment.enrolled_at or now
        give_up = invite.give_up_after is not None and now - invited_at >= invite.give_up_after
        next_read = next_acceptance_read(enrollment.checked_at, invited_at)
        if next_read is not None and now < next_read and not give_up:
            return f"{WAITING}; next check after {next_read.isoformat(timespec='minutes')}"
        account = None if enrollment.account == DEFAULT_ACCOUNT else enrollment.account
        try:
            if self.relationship(enrollment.recipient, account).connected:
                return None
        except errors.RateLimitError as exc:
            raise WaitRequired(
                exc.reset_at or now + timedelta(seconds=60), f"RateLimitError: {exc.message}"
            ) from exc
        except errors.ConnectSafelyError as exc:
            if exc.stops_batch:
                raise
            return f"could not read whether the invitation was accepted ({exc.message}); asked again next run"
        if self.checked is not None:
            self.checked(enrollment, now)
        if give_up:
            assert invite.give_up_after is not None
            after = invite.give_up_after
            span = f"{after.days} day(s)" if after == timedelta(days=after.days) else str(after)
            return f"{GAVE_UP} within {span} (invited {invited_at.isoformat(timespec='minutes')})"
        return WAITING


def next_acceptance_read(checked_at: datetime | None, invited_at: datetime) -> datetime | None:
    """When the acceptance of an invitation sent at ``invited_at`` and last read at
    ``checked_at`` is read again (None: now, it was never read)."""
    if checked_at is None:
        return None
    gap = max(checked_at - invited_at, timedelta(0)) * defaults.ACCEPT_RECHECK_SHARE
    return checked_at + min(gap, defaults.ACCEPT_RECHECK_MAX)


WAITING = "waiting for the connection request to be accepted"
#: How the reason of an enrolment ended by ``give_up_after`` starts.
GAVE_UP = "connection request not accepted"
