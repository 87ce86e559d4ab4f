"""Connection requests at most once, within the weekly cap, and not to people already
connected or invited. No Airflow imports here; the operator turns outcomes into task results.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely import defaults, errors
from airflow_provider_connectsafely.clock import Clock
from airflow_provider_connectsafely.ledger.records import CONNECT, DEFAULT_ACCOUNT, LedgerEntry, NewSend
from airflow_provider_connectsafely.outreach import caps
from airflow_provider_connectsafely.outreach.delivery import (
    _UNSET,
    GuardedSender,
    WaitRequired,
    suppressed_outcome,
)
from airflow_provider_connectsafely.outreach.outcomes import SKIPPED, Outcome

if TYPE_CHECKING:
    from airflow_provider_connectsafely.api.connect import ConnectRequest, Relationship
    from airflow_provider_connectsafely.ledger.store import SendLedger

    #: Looks up the relationship with a person: ``(profile ID or URN, account ID or None)``.
    RelationshipLookup = Callable[[str, str | None], Relationship]


def connect_account(request: ConnectRequest) -> str:
    """The account a connection request counts against in the ledger (``default`` when unnamed)."""
    return request.account_id or DEFAULT_ACCOUNT


def connect_identity(request: ConnectRequest) -> str:
    """The person as they key the ledger: profile IDs are case-insensitive on LinkedIn."""
    return (request.recipient_profile_id or "").lower() or request.recipient_profile_urn or ""


def connect_key(request: ConnectRequest) -> str:
    """The default dedupe key: ``connect:<account>:<person>``, one invitation per account and
    person across all runs and DAGs."""
    return f"connect:{connect_account(request)}:{connect_identity(request)}"


def skip_reason(relationship: Relationship) -> str | None:
    """Why no connection request should go to this person, or None when one may.

    Connected, invited by the account (pending), or inviting the account (pending the other
    way: accepting it is a person's decision, so nothing is sent).
    """
    if relationship.connected:
        return "already connected"
    if relationship.invitation_sent:
        return "a connection request from this account is already pending"
    if relationship.invitation_received:
        return "this person has already invited this account (accept it on LinkedIn instead)"
    return None


class ConnectSender(GuardedSender["ConnectRequest"]):
    """Sends connection requests through ``send`` at most once per dedupe key (the ledger's
    claim protocol, rows of kind ``connect``), within a weekly cap per account.

    :param send: the function that really sends (the hook's ``send_connect_request``).
    :param ledger: the send ledger; None sends without one (no dedupe, no cap).
    :param weekly_limit: connection requests per account per week (from Monday 00:00 UTC);
        None or 0 for no cap.
    :param relationship: when given, asked before claiming: a person already connected or
        invited either way is skipped, and nothing is recorded in the ledger.
    :param on_unknown: as for :class:`GuardedSender`.
    :param clock: as for :class:`GuardedSender`.
    :param in_flight_for: as for :class:`GuardedSender`.
    :param gate: as for :class:`GuardedSender` (a closed sending window holds the request).
    """

    def __init__(
        self,
        send: Callable[[ConnectRequest], dict[str, Any]],
        ledger: SendLedger | None,
        *,
        weekly_limit: int | None = defaults.WEEKLY_CONNECT_LIMIT,
        relationship: RelationshipLookup | None = None,
        on_unknown: str = "fail",
        clock: Clock | None = None,
        in_flight_for: timedelta = defaults.IN_FLIGHT_FOR,
        gate: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            send,
            ledger,
            daily_limit=None,
            on_unknown=on_unknown,
            clock=clock,
            in_flight_for=in_flight_for,
            gate=gate,
        )
        self.weekly_limit = weekly_limit or None
        self._relationship = relationship

    def send(
        self, request: ConnectRequest, spec: NewSend | None, existing: LedgerEntry | None = _UNSET
    ) -> Outcome:
        """Send once; return the outcome: ``sent``, ``skipped`` (already sent under this key,
        or already connected or invited), ``in_flight``, ``failed`` or ``unknown``.

        The ledger is read first (a settled key costs no request), then the relationship,
        then the weekly cap: a connected person is skipped even when the cap is reached.

        :raises WaitRequired: the weekly cap is reached or the API asks to wait; nothing was sent.
        """
        if self.ledger is not None and spec is not None:
            if existing is _UNSET:
                existing = self.ledger.get(spec.dedupe_key)
            if existing is not None:
                settled = self._settled(existing, request.recipient, spec)
                if settled is not None:
                    return settled
        if self._relationship is not None and self.ledger is not None and spec is not None:
            # The claim refuses a suppressed person anyway; asking first saves the lookup.
            blocked = self.ledger.suppressed(spec.recipient, spec.dedupe_key)
            if blocked is not None:
                return suppressed_outcome(request.recipient, spec.dedupe_key, blocked.describe())
        skipped = self._skip_if_related(request, spec)
        if skipped is not None:
            return skipped
        return super().send(request, spec, existing)

    def _skip_if_related(self, request: ConnectRequest, spec: NewSend | None) -> Outcome | None:
        if self._relationship is None:
            return None
        try:
            relationship = self._relationship(request.recipient, request.account_id)
        except errors.RateLimitError as exc:
            reset_at = exc.reset_at or self._clock() + timedelta(seconds=60)
            raise WaitRequired(reset_at, f"RateLimitError: {exc.message}") from exc
        reason = skip_reason(relationship)
        if reason is None:
            return None
        return Outcome(
            SKIPPED,
            request.recipient,
            spec.dedupe_key if spec is not None else None,
            response=relationship.to_dict(),
            reason=f"{reason}; no connection request sent",
        )

    def _check_cap(self, account: str) -> None:
        """Count this account's connection requests this week in the ledger before claiming
        (sent, pending and unknown ones: they may have gone out)."""
        if self.weekly_limit is None or self.ledger is None:
            return
        start, reset_at = caps.weekly_window(self._clock())
        self.ledger.note_cap(account, CONNECT, start, self.weekly_limit)
        used = self.ledger.count_since(account, start, kind=CONNECT)
        if used >= self.weekly_limit:
            raise WaitRequired(
                reset_at,
                f"Weekly limit of {self.weekly_limit} connection requests reached for LinkedIn "
                f"account {account!r} ({used} since {start.isoformat(timespec='minutes')})",
                account=account,
            )
