"""Several LinkedIn accounts in one campaign: who sends to whom, within each account's caps.

No Airflow imports here. A :class:`AccountPool` answers, before each send, which account sends
to a recipient:

- a recipient stays with the account that first contacted them (follow-ups must come from the
  same person), read from the ledger across campaigns;
- a new recipient goes to the account with the most room left today (ties: the order given);
- each account has its own daily cap, optionally ramped up over its first days (warm-up);
- an account that answers 401/403 or reports an unavailable status leaves the rotation for the
  rest of the run; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely.ledger.records import MESSAGE, PENDING, SENT, UNKNOWN
from airflow_provider_connectsafely.outreach import caps

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.store import SendLedger

#: Account statuses (``GET /linkedin/accounts``) that take an account out of rotation; the
#: documented ones are ``AVAILABLE``, ``IN_USE`` and ``ERROR``.
UNAVAILABLE_STATUSES = frozenset({"ERROR"})
# Rows that tie a recipient to the account that sent them (or may have).
_CONTACTED = (SENT, PENDING, UNKNOWN)
_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class Warmup:
    """A daily cap that ramps up while an account is new: ``start`` sends on its first day,
    then evenly more each day until the full cap on day ``days``.

    The account's first day is the UTC day of its first send in the ledger, so nothing has to
    be configured per account; an account with no send yet is on day 0.

    :param start: the cap on the first day.
    :param days: days until the full cap.
    """

    start: int = 10
    days: int = 14

    def __post_init__(self) -> None:
        from airflow_provider_connectsafely.errors import ConnectSafelyValidationError

        if self.start < 1 or self.days < 1:
            raise ConnectSafelyValidationError(
                "warmup",
                f"start={self.start}, days={self.days}",
                "give a starting cap and a number of days of at least 1, e.g. {'start': 10, 'days': 14}",
            )

    @classmethod
    def of(cls, value: Warmup | Mapping[str, Any] | None) -> Warmup | None:
        """A :class:`Warmup` from itself, a dict ``{"start": 10, "days": 14}``, or None."""
        if value is None or isinstance(value, Warmup):
            return value
        from airflow_provider_connectsafely.errors import ConnectSafelyValidationError

        if not isinstance(value, Mapping) or set(value) - {"start", "days"}:
            raise ConnectSafelyValidationError(
                "warmup",
                repr(value)[:80],
                "give a dict with 'start' and 'days', e.g. {'start': 10, 'days': 14}",
            )
        return cls(**{key: int(number) for key, number in value.items()})

    def cap(self, full: int, day: int) -> int:
        """The cap on the account's ``day``-th day (0 = its first), never above ``full``."""
        if day >= self.days:
            return full
        ramp = self.start + (full - self.start) * day / self.days
        return max(1, min(full, int(ramp)))


@dataclass
class AccountPool:
    """The accounts of one run and what each may still send today.

    :param accounts: the LinkedIn account IDs, in order of preference on ties.
    :param ledger: the send ledger (caps and earlier contacts are read from it).
    :param daily_limit: each account's full daily cap; None or 0 for no cap.
    :param warmup: the ramp for new accounts, or None.
    :param now: the current time (the ledger's clock).
    """

    accounts: Sequence[str]
    ledger: SendLedger | None
    daily_limit: int | None
    warmup: Warmup | None = None
    now: datetime | None = None
    used: dict[str, int] = field(default_factory=dict)
    limits: dict[str, int | None] = field(default_factory=dict)
    retired: dict[str, str] = field(default_factory=dict)
    _sticky: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from airflow_provider_connectsafely.errors import ConnectSafelyValidationError

        names = [] if isinstance(self.accounts, str) else list(self.accounts)
        if not names or any(not isinstance(a, str) or not a.strip() for a in names):
            raise ConnectSafelyValidationError(
                "account_ids", repr(self.accounts)[:80], "give a non-empty list of LinkedIn account IDs"
            )
        if len(set(names)) != len(names):
            raise ConnectSafelyValidationError(
                "account_ids", "an account is listed twice", "list each account once"
            )
        self.now = self.now or (self.ledger.clock() if self.ledger is not None else None)
        start = caps.window(self.now)[0] if self.now is not None else None
        first_days = self._first_days() if self.warmup is not None else {}
        for account in names:
            self.used[account] = (
                self.ledger.count_since(account, start, kind=MESSAGE)
                if self.ledger is not None and start is not None
                else 0
            )
            self.limits[account] = self._limit(account, first_days.get(account))

    # -- assignment ------------------------------------------------------------------------

    def remember(self, identities: Iterable[str]) -> None:
        """Read from the ledger which of these recipients an account of the pool has contacted
        before (the first such account wins), in a few indexed queries."""
        if self.ledger is None:
            return
        wanted = [i for i in dict.fromkeys(identities) if i not in self._sticky]
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            self._sticky.update(self._first_contacts(wanted[start : start + _LOOKUP_CHUNK]))

    def sticky(self, identity: str) -> str | None:
        """The account that contacted ``identity`` first, when it is in this pool."""
        return self._sticky.get(identity)

    def pick(self, identity: str) -> str | None:
        """The account to send to ``identity`` now, or None when it must wait: its own account
        is full or out of rotation, or (for a new recipient) every account is."""
        own = self._sticky.get(identity)
        if own is not None:
            return own if self.has_room(own) else None
        open_accounts = [a for a in self.accounts if self.has_room(a)]
        if not open_accounts:
            return None
        return max(open_accounts, key=lambda a: (self.room(a), -self.accounts.index(a)))

    def assign(self, identity: str) -> str:
        """The account a new enrolment is given: its earlier account, else the one with the
        most room, else (every account full today) the active one given the fewest; counted,
        so the next new recipient is spread onto the others."""
        account = self._sticky.get(identity) or self.pick(identity)
        if account is None:
            candidates = self.active or list(self.accounts)
            account = min(candidates, key=lambda a: (self.used.get(a, 0), self.accounts.index(a)))
        self.bind(identity, account)
        self.count(account)
        return account

    def bind(self, identity: str, account: str) -> None:
        """``account`` now holds ``identity`` (it was claimed for them)."""
        self._sticky.setdefault(identity, account)

    # -- room ------------------------------------------------------------------------------

    def room(self, account: str) -> float:
        """Sends left today for ``account`` (infinite without a cap; 0 when out of rotation)."""
        if account in self.retired:
            return 0
        limit = self.limits.get(account)
        if limit is None:
            return float("inf")
        return max(limit - self.used.get(account, 0), 0)

    def has_room(self, account: str) -> bool:
        return self.room(account) > 0

    def count(self, account: str) -> None:
        """One more send (or possible send) by ``account`` today."""
        self.used[account] = self.used.get(account, 0) + 1

    def full(self, account: str) -> None:
        """``account`` reached its cap (another task used the rest)."""
        limit = self.limits.get(account)
        self.used[account] = max(self.used.get(account, 0), limit if limit is not None else 0)
        if limit is None:
            self.limits[account] = self.used[account]

    def retire(self, account: str, reason: str) -> None:
        """Take ``account`` out of rotation for the rest of the run."""
        self.retired.setdefault(account, reason)

    def retire_unavailable(self, listing: Mapping[str, Any]) -> None:
        """Retire the accounts that ``GET /linkedin/accounts`` reports unavailable or does not
        list at all.

        :param listing: the API's answer (``{"accounts": [{"id", "status"}, ...]}``).
        """
        rows = listing.get("accounts") or listing.get("data") or []
        statuses = {
            str(row.get("id")): str(row.get("status") or "").upper() for row in rows if isinstance(row, dict)
        }
        available = []
        for account in self.accounts:
            found = statuses.get(account)
            if found is None:
                self.retire(account, "not among the API key's LinkedIn accounts")
            elif found in UNAVAILABLE_STATUSES:
                self.retire(account, f"the API reports its status as {found}")
            else:
                available.append(account)
        if self.ledger is not None:
            from airflow_provider_connectsafely.ledger import account_status

            account_status.mark_available(self.ledger, available)
            for account in self.accounts:
                if account in self.retired:
                    account_status.mark_unavailable(self.ledger, account, self.retired[account])

    def check_status(self, list_accounts: Callable[[], Mapping[str, Any]], log: Any) -> None:
        """Retire the accounts the API reports unavailable (one ``GET /linkedin/accounts``); a
        failed read is logged and the accounts stay in rotation (a send then tells).

        :param list_accounts: the hook's ``list_accounts``.
        :param log: where to log the accounts' state.
        """
        from airflow_provider_connectsafely.errors import ConnectSafelyError

        try:
            self.retire_unavailable(list_accounts())
        except ConnectSafelyError as exc:
            if exc.stops_batch:
                raise
            log.warning("Could not read the LinkedIn accounts' status (%s); sending from all of them", exc)
        log.info("LinkedIn accounts of this run: %s", self.describe())

    @property
    def active(self) -> list[str]:
        return [a for a in self.accounts if a not in self.retired]

    def reset_at(self) -> datetime | None:
        """When the caps reset (the next UTC midnight, or the test window's end)."""
        return caps.window(self.now)[1] if self.now is not None else None

    def describe(self) -> str:
        """One line per account for the task log: used / cap, or why it is out."""
        parts = []
        for account in self.accounts:
            if account in self.retired:
                parts.append(f"{account}: out of rotation ({self.retired[account]})")
                continue
            limit = self.limits.get(account)
            parts.append(
                f"{account}: {self.used.get(account, 0)}/{limit if limit is not None else '-'} today"
            )
        return "; ".join(parts)

    # -- ledger reads ----------------------------------------------------------------------

    def _limit(self, account: str, first_day: str | None) -> int | None:
        if not self.daily_limit:
            return None
        if self.warmup is None or self.now is None:
            return self.daily_limit
        day = 0
        if first_day is not None:
            day = (self.now.date() - datetime.fromisoformat(first_day).date()).days
        return self.warmup.cap(self.daily_limit, max(day, 0))

    def _first_days(self) -> dict[str, str]:
        """Each account's first UTC day with a message in the ledger (from the kept counts)."""
        if self.ledger is None:
            return {}
        from sqlalchemy import func, select

        from airflow_provider_connectsafely.ledger.schema import send_counts as counts

        self.ledger.ensure_schema()
        query = (
            select(counts.c.account, func.min(counts.c.day))
            .where(counts.c.account.in_(list(self.accounts)), counts.c.kind == MESSAGE)
            .where(counts.c.state.in_(_CONTACTED), counts.c.sends > 0)
            .group_by(counts.c.account)
        )
        with self.ledger.engine.connect() as conn:
            return {str(account): str(day) for account, day in conn.execute(query)}

    def _first_contacts(self, identities: list[str]) -> dict[str, str]:
        assert self.ledger is not None
        from sqlalchemy import func, select

        from airflow_provider_connectsafely.ledger.schema import sends

        self.ledger.ensure_schema()
        lowered = func.lower(sends.c.recipient)  # the indexed expression
        query = (
            select(sends.c.recipient, sends.c.account)
            .where(lowered.in_([i.lower() for i in identities]))
            .where(sends.c.account.in_(list(self.accounts)), sends.c.state.in_(_CONTACTED))
            .order_by(sends.c.created_at, sends.c.dedupe_key)
        )
        wanted = set(identities)
        found: dict[str, str] = {}
        with self.ledger.engine.connect() as conn:
            for recipient, account in conn.execute(query):
                if recipient in wanted:
                    found.setdefault(recipient, account)
        return found
