"""A sequence's reply detection: who answered since their first step, read with few calls.

No Airflow imports here. One account-wide listing per account per run, from a watermark kept
in the ledger; one read per due conversation only when that listing fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_connectsafely.clock import Clock, parse_utc
from airflow_provider_connectsafely.errors import ConnectSafelyError
from airflow_provider_connectsafely.ledger import sequences as state
from airflow_provider_connectsafely.ledger.records import DEFAULT_ACCOUNT
from airflow_provider_connectsafely.outreach.opt_out import OptOutDetector, suppress_if_opted_out

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.sequences import Enrollment, SequenceStore

#: Replies are re-read this far behind the watermark: a message that reaches the API's
#: listing late is still seen. Reading one twice is harmless.
REPLY_OVERLAP = timedelta(minutes=10)


class ReplyReader(Protocol):
    """Where replies come from (the hook, in production)."""

    def recent(self, since: datetime, account_id: str | None) -> list[dict[str, Any]]:
        """Replies after ``since`` across the account's conversations (few calls)."""

    def in_conversation(self, conversation_urn: str, since: datetime, account_id: str | None) -> list[dict]:
        """Replies after ``since`` in one conversation (one call or a few)."""


@dataclass
class ReplyCheck:
    """Marks the enrolled people who replied.

    :param campaign: the sequence's identity (its watermarks are per campaign and account).
    :param store: enrolments and watermarks.
    :param replies: where replies are read.
    :param now: the current time.
    :param due: the step due now for an enrolment, or None (the fallback reads only those).
    :param log: where the replies found are logged.
    :param refused: called with the account and the reason when reading its messages is
        refused (401/403); that account's replies are not read this run (its people must wait).
        None: the error is raised.
    :param opt_out: decides whether a reply asks to stop; such a reply also puts the person
        on the do-not-contact list everywhere. None: replies only stop this sequence.
    :param finished_since: also mark the finished enrolments whose last step went out since
        this time (the reply window after the last step, for reply rates); None: live only.
    """

    campaign: str
    store: SequenceStore
    replies: ReplyReader
    now: Clock
    due: Callable[[Enrollment], int | None]
    log: Any
    refused: Callable[[str, str], None] | None = None
    opt_out: OptOutDetector | None = None
    finished_since: datetime | None = None

    def run(self) -> list[Enrollment]:
        """Mark those who replied since their first step, for every live enrolment of the
        campaign: one account-wide listing per account (from a watermark; per-conversation
        reads only where it fails), the listing's start per account from one aggregate query,
        and only the enrolments a reply names (by conversation or sender) read from the ledger.
        Return those marked."""
        marked: list[Enrollment] = []
        finished = self.finished_since
        for account, earliest in self.store.reply_starts(self.campaign, finished):

            def everyone(account: str = account) -> list[Enrollment]:
                return self.store.watched(self.campaign, account, finished_since=finished)

            def named(found: list[dict[str, Any]], account: str = account) -> list[Enrollment]:
                if not found:
                    return []
                return self.store.watched(
                    self.campaign,
                    account,
                    conversations={str(r.get("conversationUrn")) for r in found if r.get("conversationUrn")},
                    recipients={
                        str(r.get("senderProfileId")).lower() for r in found if r.get("senderProfileId")
                    },
                    finished_since=finished,
                )

            marked.extend(self._account(account, earliest, everyone, named))
        return marked

    def _account(
        self,
        account: str,
        earliest: datetime,
        everyone: Callable[[], list[Enrollment]],
        named: Callable[[list[dict[str, Any]]], list[Enrollment]],
    ) -> list[Enrollment]:
        """Read and match one account's replies; advance its watermark."""
        api_account = None if account == DEFAULT_ACCOUNT else account
        since = max(earliest, (self.store.watermark(self.campaign, account) or earliest) - REPLY_OVERLAP)
        checked_at = self.now()
        try:
            found = self._read(everyone, since, api_account)
        except ConnectSafelyError as exc:
            if not exc.stops_batch or self.refused is None:
                raise
            self.refused(account, f"{type(exc).__name__}: {exc.message}")
            return []
        marked = self._match(named(found), found)
        self.store.set_watermark(self.campaign, account, checked_at)
        return marked

    def _read(
        self, group: Callable[[], list[Enrollment]], since: datetime, account_id: str | None
    ) -> list[dict[str, Any]]:
        try:
            return self.replies.recent(since, account_id)
        except ConnectSafelyError as exc:
            if exc.stops_batch:
                raise
            self.log.warning("Reading recent messages failed (%s); reading each due conversation", exc)
            return self._per_conversation(group(), account_id)

    def _per_conversation(self, group: list[Enrollment], account_id: str | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for enrollment in group:
            if enrollment.conversation_urn and enrollment.first_sent_at and self.due(enrollment) is not None:
                found.extend(
                    self.replies.in_conversation(
                        enrollment.conversation_urn, enrollment.first_sent_at, account_id
                    )
                )
        return found

    def _match(self, group: list[Enrollment], found: list[dict[str, Any]]) -> list[Enrollment]:
        marked: list[Enrollment] = []
        by_conversation = {e.conversation_urn: e for e in group if e.conversation_urn}
        by_person = {e.recipient: e for e in group}
        for reply in sorted(found, key=lambda r: str(r.get("sentAt") or "")):
            enrollment = by_conversation.get(str(reply.get("conversationUrn"))) or by_person.get(
                str(reply.get("senderProfileId") or "").lower()
            )
            if enrollment is None or enrollment.state == state.REPLIED:
                continue
            when = _parse_time(reply.get("sentAt"))
            if when is None or enrollment.first_sent_at is None or when <= enrollment.first_sent_at:
                continue
            text = str(reply.get("text") or "")
            if self.store.mark_replied(enrollment, when, text):
                marked.append(enrollment)
                if suppress_if_opted_out(self.store.ledger, self.opt_out, enrollment.recipient, text):
                    self.log.info(
                        "Recipient %s opted out in their reply: on the do-not-contact list everywhere now",
                        enrollment.recipient,
                    )
            self.log.info(
                "Recipient %s replied at %s: the sequence stops for them", enrollment.recipient, when
            )
        return marked


def _parse_time(value: Any) -> datetime | None:
    try:
        return parse_utc(value if isinstance(value, datetime) else str(value))
    except ValueError:
        return None
