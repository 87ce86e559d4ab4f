"""At-most-once delivery: one send checked against the ledger and the daily cap, and its
outcome recorded. No Airflow imports here; the operators turn outcomes into task results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, get_args

from airflow_provider_connectsafely import defaults, errors
from airflow_provider_connectsafely.clock import Clock, utc_now
from airflow_provider_connectsafely.ledger.records import (
    DEFAULT_ACCOUNT,
    MESSAGE,
    PENDING,
    SENT,
    UNKNOWN,
    LedgerEntry,
    NewSend,
)
from airflow_provider_connectsafely.outreach import caps
from airflow_provider_connectsafely.outreach.outcomes import FAILED, IN_FLIGHT, SKIPPED, Outcome
from airflow_provider_connectsafely.outreach.outcomes import SENT as SENT_NOW
from airflow_provider_connectsafely.outreach.outcomes import UNKNOWN as UNKNOWN_OUTCOME

if TYPE_CHECKING:
    from airflow_provider_connectsafely.api.models import MessageRequest
    from airflow_provider_connectsafely.ledger.store import SendLedger

log = logging.getLogger(__name__)

#: What happens to a send recorded ``unknown`` (it may have been delivered): fail the task,
#: send it again, or skip it.
OnUnknown = Literal["fail", "resend", "skip"]
ON_UNKNOWN: tuple[OnUnknown, ...] = get_args(OnUnknown)
_UNSET: Any = object()


class Deliverable(Protocol):
    """What :class:`GuardedSender` needs of a request (a message, a connection request)."""

    @property
    def recipient(self) -> str:
        """The recipient as given, for outcomes and logs."""
        ...


_Request = TypeVar("_Request", bound=Deliverable)


class WaitRequired(Exception):
    """Sending must pause until ``reset_at``: the daily cap is reached, or the API rate-limits.

    :param reset_at: when sending may resume (UTC).
    :param reason: why.
    :param account: the LinkedIn account (or accounts) whose cap is reached; None for a wait
        the API asked for (a 429 hold), which counts toward ``max_defer``.
    """

    def __init__(self, reset_at: datetime, reason: str, account: str | None = None) -> None:
        super().__init__(reason)
        self.reset_at = reset_at
        self.reason = reason
        self.account = account


def account_key(request: MessageRequest) -> str:
    """The account a send counts against in the ledger (``default`` when unnamed)."""
    return request.account_id or DEFAULT_ACCOUNT


def recipient_identity(request: MessageRequest) -> str:
    """The recipient as it keys the ledger: profile IDs are case-insensitive on LinkedIn."""
    return (request.recipient_profile_id or "").lower() or request.recipient_profile_urn or ""


def suppressed_outcome(recipient: str, key: str | None, reason: str) -> Outcome:
    """A send not made because the person is on the do-not-contact list."""
    return Outcome(SKIPPED, recipient, key, reason=reason, suppressed=True)


#: Why a claim whose try never recorded an outcome is ``unknown``.
ABANDONED = (
    "the try that claimed it stopped before recording an outcome (a crash, a killed worker or a "
    "lost database connection); the message may have gone out"
)


def unresolved_reason(entry: LedgerEntry) -> str:
    state = "still pending (an earlier try stopped mid-send)" if entry.state == PENDING else "unknown"
    return (
        f"An earlier attempt for dedupe key {entry.dedupe_key!r} is {state}"
        f"{': ' + entry.error if entry.error else ''}. It may have been delivered, so it was not "
        "sent again. Check the LinkedIn conversation, then settle it: `connectsafely-ledger "
        "settle KEY sent|failed --note ...`, the Settle button of the ConnectSafely ledger page, "
        "or SendLedger.resolve; or run with on_unknown='resend' (may message the person twice) "
        "or on_unknown='skip'."
    )


class GuardedSender(Generic[_Request]):
    """Sends through ``send`` at most once per dedupe key, within a daily cap.

    :param send: the function that really sends (the hook's ``send_request``).
    :param ledger: the send ledger; None sends without one (no dedupe, no cap).
    :param daily_limit: sends per account per UTC day; None or 0 for no cap.
    :param on_unknown: what to do when the key's earlier attempt is pending or unknown:
        ``fail`` (report it), ``skip``, or ``resend``.
    :param clock: the current time; by default the ledger's clock (so the cap counts rows
        on the same clock that stamped them), else the wall clock.
    :param in_flight_for: how long a ``pending`` row claimed by *another* task counts as a
        send in progress (skipped here) rather than a crashed one (unknown).
    :param gate: called once the ledger allows a send, before the cap is counted and the key
        claimed; it raises :class:`WaitRequired` to hold the send (a closed sending window).
    :param limit_for: each account's daily cap (None: no cap), instead of ``daily_limit``:
        several accounts with their own caps and warm-up.
    """

    def __init__(
        self,
        send: Callable[[_Request], dict[str, Any]],
        ledger: SendLedger | None,
        *,
        daily_limit: int | None = defaults.DAILY_LIMIT,
        on_unknown: str = "fail",
        clock: Clock | None = None,
        in_flight_for: timedelta = defaults.IN_FLIGHT_FOR,
        gate: Callable[[], None] | None = None,
        limit_for: Callable[[str], int | None] | None = None,
    ) -> None:
        if on_unknown not in ON_UNKNOWN:
            raise errors.ConnectSafelyValidationError(
                "on_unknown", f"{on_unknown!r} is not a policy", "use 'fail', 'resend' or 'skip'"
            )
        self._send = send
        self.ledger = ledger
        self.daily_limit = daily_limit or None
        self.on_unknown = on_unknown
        self._clock = clock or (ledger.clock if ledger is not None else utc_now)
        self.in_flight_for = in_flight_for
        self.gate = gate
        self.limit_for = limit_for

    def send(self, request: _Request, spec: NewSend | None, existing: LedgerEntry | None = _UNSET) -> Outcome:
        """Send once; return the outcome. ``existing`` saves a lookup when the caller
        already read the key's row in bulk.

        :raises WaitRequired: the cap is reached or the API asks to wait; nothing was sent.
        """
        if self.ledger is None or spec is None:
            if self.gate is not None:
                self.gate()
            return self._wait_if_rate_limited(self._attempt(request))
        if existing is _UNSET:
            existing = self.ledger.get(spec.dedupe_key)
        if existing is not None:
            settled = self._settled(existing, request.recipient, spec)
            if settled is not None:
                return settled
        if self.gate is not None:
            self.gate()
        self._check_cap(spec.account)
        take_over = (PENDING, UNKNOWN) if self.on_unknown == "resend" else ()
        claim = self.ledger.claim(spec, take_over=take_over)
        if claim.suppressed is not None:
            return suppressed_outcome(request.recipient, spec.dedupe_key, claim.suppressed.describe())
        if not claim.claimed:
            assert claim.entry is not None
            return self._settled(claim.entry, request.recipient, spec) or Outcome(
                UNKNOWN_OUTCOME, request.recipient, spec.dedupe_key, reason=unresolved_reason(claim.entry)
            )
        assert claim.token is not None
        outcome = self._attempt_claimed(request, spec.dedupe_key, claim.token)
        if outcome.stops_batch:  # 401/403: the account cannot send; the ledger page shows it
            from airflow_provider_connectsafely.ledger.account_status import mark_unavailable

            mark_unavailable(self.ledger, spec.account, outcome.reason or "refused")
        return self._wait_if_rate_limited(outcome)

    def _attempt_claimed(self, request: _Request, key: str, token: str) -> Outcome:
        """Send under a claim and record the outcome in the ledger."""
        assert self.ledger is not None
        ledger = self.ledger
        try:
            outcome = self._attempt(request, key)
        except BaseException as exc:
            # Interrupted (task killed, a bug below): nobody knows if it went out. Say so in
            # the ledger rather than leave a pending row that looks like a send in progress.
            try:
                ledger.mark_unknown(key, token, f"interrupted: {type(exc).__name__}")
            except Exception:
                log.exception("Could not record the interrupted send %r as unknown", key)
            raise
        if outcome.status == SENT_NOW:
            ledger.mark_sent(key, token, outcome.response or {})
        elif outcome.status == UNKNOWN_OUTCOME:
            ledger.mark_unknown(key, token, outcome.reason or "unknown")
        else:
            assert outcome.error is not None
            retryable = outcome.error.delivered is False
            ledger.mark_failed(key, token, outcome.reason or "failed", retryable=retryable)
        return outcome

    def _wait_if_rate_limited(self, outcome: Outcome) -> Outcome:
        """A 429 whose reset is too far to wait out in-process: pause, don't fail."""
        if isinstance(outcome.error, errors.RateLimitError):
            reset_at = outcome.error.reset_at or self._clock() + timedelta(seconds=60)
            raise WaitRequired(reset_at, f"RateLimitError: {outcome.error.message}")
        return outcome

    def _attempt(self, request: _Request, key: str | None = None) -> Outcome:
        recipient = request.recipient
        try:
            response = self._send(request)
        except errors.DeliveryUnknownError as exc:
            return Outcome(UNKNOWN_OUTCOME, recipient, key, reason=exc.message, error=exc)
        except errors.ConnectSafelyError as exc:
            return Outcome(FAILED, recipient, key, reason=f"{type(exc).__name__}: {exc.message}", error=exc)
        return Outcome(SENT_NOW, recipient, key, response=response)

    def _settled(self, entry: LedgerEntry, recipient: str, spec: NewSend) -> Outcome | None:
        """The outcome for a key that must not be sent now, or None when it may be."""
        if entry.state == SENT:
            when = entry.updated_at.isoformat(timespec="seconds")
            return Outcome(
                SKIPPED,
                recipient,
                entry.dedupe_key,
                response=entry.response,
                reason=f"already sent at {when} (dedupe key {entry.dedupe_key!r})",
            )
        if entry.state == PENDING and self._in_flight_elsewhere(entry, spec):
            owner = f"{entry.dag_id}/{entry.task_id}/{entry.run_id}"
            return Outcome(
                IN_FLIGHT,
                recipient,
                entry.dedupe_key,
                reason=f"being sent right now by another task ({owner})",
            )
        if entry.state in (PENDING, UNKNOWN):
            if self.on_unknown == "resend":
                return None
            if entry.state == PENDING and self.ledger is not None:
                # Its try stopped between claim and outcome: record that, so the row stops
                # looking in flight and reads as what it is.
                self.ledger.mark_abandoned(entry.dedupe_key, entry.attempts, ABANDONED)
            reason = unresolved_reason(entry)
            if self.on_unknown == "skip":
                reason = f"{reason} Not sent (on_unknown='skip')."
            return Outcome(UNKNOWN_OUTCOME, recipient, entry.dedupe_key, reason=reason)
        return None  # failed: a new attempt may send

    def _in_flight_elsewhere(self, entry: LedgerEntry, spec: NewSend) -> bool:
        """A fresh claim by another task is a send in progress; one by this same task (an
        earlier try) or an old one is a send that crashed."""
        same_task = (entry.dag_id, entry.task_id, entry.run_id, entry.map_index) == (
            spec.dag_id,
            spec.task_id,
            spec.run_id,
            spec.map_index,
        )
        return not same_task and self._clock() - entry.updated_at < self.in_flight_for

    def _check_cap(self, account: str) -> None:
        """Count the ledger before every claim (one indexed COUNT), so parallel tasks on one
        account share the cap: together they overshoot it by at most one send each."""
        limit = self.limit_for(account) if self.limit_for is not None else self.daily_limit
        if limit is None or self.ledger is None:
            return
        start, reset_at = caps.window(self._clock())
        self.ledger.note_cap(account, MESSAGE, start, limit)
        used = self.ledger.count_since(account, start)
        if used >= limit:
            raise WaitRequired(
                reset_at,
                f"Daily limit of {limit} messages reached for LinkedIn account "
                f"{account!r} ({used} since {start.isoformat(timespec='minutes')})",
                account=account,
            )
