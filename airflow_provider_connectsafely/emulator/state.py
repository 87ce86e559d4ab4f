"""The emulator's in-memory state: accounts, the request record, delivered messages, daily
quota counts, the fault queue, conversations and connection requests. Every access goes
through one lock (the conversation store and the connection book share it)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from .clock import Clock, as_utc, iso_z, next_utc_midnight, utc_now
from .connections import DEFAULT_WEEKLY_LIMIT, ConnectionBook
from .conversations import ConversationStore
from .faults import Fault
from .quota import Quota
from .rate_limit import DEFAULT_WINDOW, DISABLED, Admission, RequestRate
from .routes import template_of


@dataclass(frozen=True)
class Account:
    """A LinkedIn account connected to ConnectSafely.

    :param id: account id (the real API uses 24 lowercase hex characters).
    :param name: display name.
    :param is_default: whether requests without ``accountId`` use it.
    """

    id: str
    name: str
    is_default: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as in ``GET /linkedin/accounts``."""
        return {"id": self.id, "name": self.name, "status": "active", "isDefault": self.is_default}


#: The account status whose sends the emulator refuses with 403.
UNAVAILABLE = "ERROR"


def default_account_ids() -> list[str]:
    """The two deterministic account ids used when none are configured."""
    return [hashlib.sha256(f"connectsafely-emulator-account-{n}".encode()).hexdigest()[:24] for n in (1, 2)]


@dataclass(frozen=True)
class RecordHandle:
    """Opaque reference to one request record (stale after a reset)."""

    record: dict[str, Any]
    generation: int


class EmulatorState:
    """Thread-safe state shared by all request handlers.

    :param api_key: the bearer key clients must send.
    :param accounts: account ids (the first is the default); two deterministic ones if ``None``.
    :param daily_limit: messages per account per UTC day.
    :param clock: source of the current time (tests may pass a fake one).
    :param weekly_connect_limit: connection requests per account per week (from Monday 00:00 UTC).
    :param connected: profile ids or URNs connected to every account from the start.
    :param thread_in_send_answers: add ``conversationUrn`` and ``threadId`` to the answers of
        ``/linkedin/messaging/send`` and ``send-with-typing`` (the documented API returns neither).
    :param rate_limit: requests per window for the API key (see :mod:`.rate_limit`); None: no limit.
    :param rate_window: the request window's length in seconds.
    :param rate_reset_format: ``iso`` or ``unix``: how ``X-RateLimit-Reset`` of the window is written.
    """

    def __init__(
        self,
        api_key: str,
        accounts: Sequence[str] | None = None,
        daily_limit: int = 150,
        clock: Clock = utc_now,
        *,
        weekly_connect_limit: int = DEFAULT_WEEKLY_LIMIT,
        connected: Iterable[str] = (),
        thread_in_send_answers: bool = False,
        rate_limit: int | None = None,
        rate_window: float = DEFAULT_WINDOW,
        rate_reset_format: str = "iso",
    ) -> None:
        ids = list(default_account_ids() if accounts is None else accounts)
        if not ids or not all(isinstance(i, str) and i for i in ids) or len(set(ids)) != len(ids):
            raise ValueError("accounts must be a non-empty list of distinct, non-empty ids")
        if daily_limit < 0:
            raise ValueError("daily_limit must be >= 0")
        self._api_key = api_key
        self.accounts = tuple(Account(i, f"Emulator Account {n}", n == 1) for n, i in enumerate(ids, 1))
        self.daily_limit = daily_limit
        self._clock = clock
        self._lock = threading.Lock()
        self._generation = 0
        self._seq = 0
        self._records: list[dict[str, Any]] = []
        self._messages: list[dict[str, Any]] = []
        self._sent: dict[tuple[str, date], int] = {}
        self._faults: list[Fault] = []
        self.conversations = ConversationStore(self._lock)
        self.connections = ConnectionBook(self._lock, weekly_connect_limit, connected)
        self.thread_in_send_answers = thread_in_send_answers
        self.rate = None if rate_limit is None else RequestRate(rate_limit, rate_window, rate_reset_format)
        self._statuses: dict[str, str] = {}

    def now(self) -> datetime:
        """Current UTC time according to the clock."""
        return as_utc(self._clock())

    def is_authorized(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header value carries the right bearer key."""
        scheme, _, token = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(token.strip().encode(), self._api_key.encode())

    def account(self, account_id: str | None) -> Account | None:
        """The account with this id, the default one for ``None``, or ``None`` if unknown."""
        if account_id is None:
            return self.accounts[0]
        return next((a for a in self.accounts if a.id == account_id), None)

    def set_status(self, account_id: str, status: str) -> None:
        """Set an account's status as ``GET /linkedin/accounts`` reports it; with ``ERROR`` its
        sends and connection requests answer 403 (kept across :meth:`reset`)."""
        with self._lock:
            self._statuses[account_id] = status

    def status_of(self, account_id: str) -> str:
        """The account's status (``active`` unless set)."""
        return self._statuses.get(account_id, "active")

    def unavailable(self, account_id: str) -> str | None:
        """Why the account may not send now, or None."""
        status = self.status_of(account_id)
        if status.upper() != UNAVAILABLE:
            return None
        return (
            f"LinkedIn account {account_id} is not available (status {status}): reconnect it in ConnectSafely"
        )

    def admit(self) -> Admission | None:
        """Count one authorized ``/linkedin/*`` request against the request rate; None when
        no rate is configured."""
        return None if self.rate is None else self.rate.admit(self.now())

    def rate_limit(self) -> dict[str, Any]:
        """The request window now and the requests it refused, as ``GET /_emulator/rate-limit``."""
        return dict(DISABLED) if self.rate is None else self.rate.snapshot(self.now())

    def quota(self, account_id: str, *, consume: bool = False) -> Quota:
        """Today's quota of an account; with ``consume`` count one delivery if it is allowed."""
        now = self.now()
        key = (account_id, now.date())
        with self._lock:
            used = self._sent.get(key, 0)
            allowed = used < self.daily_limit
            if consume and allowed:
                used += 1
                self._sent[key] = used
        return Quota(allowed, self.daily_limit, used, next_utc_midnight(now))

    def open_record(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], authorized: bool
    ) -> RecordHandle:
        """Record the arrival of a ``/linkedin/*`` request (status ``None`` until closed)."""
        at = iso_z(self.now(), millis=True)
        with self._lock:
            self._seq += 1
            record: dict[str, Any] = {
                "seq": self._seq,
                "method": method,
                "path": path,
                "query": query,
                "body": None,
                "headers": headers,
                "authorized": authorized,
                "status": None,
                "fault": None,
                "delivered": False,
                "at": at,
            }
            self._records.append(record)
            return RecordHandle(record, self._generation)

    def set_body(self, handle: RecordHandle, body: object) -> None:
        """Store the parsed request body."""
        with self._lock:
            handle.record["body"] = body

    def close_record(
        self, handle: RecordHandle, status: int | None, fault: str | None, message: dict[str, Any] | None
    ) -> None:
        """Store how a request ended; ``message`` is the delivered message, if any."""
        at = iso_z(self.now(), millis=True)
        with self._lock:
            record = handle.record
            record.update(status=status, fault=fault, delivered=message is not None)
            if message is not None and handle.generation == self._generation:
                self._messages.append({"seq": record["seq"], **message, "at": at})

    def requests(self) -> list[dict[str, Any]]:
        """Copies of all request records, oldest first."""
        with self._lock:
            return copy.deepcopy(self._records)

    def request_counts(self) -> dict[str, int]:
        """How many ``/linkedin/*`` requests arrived per ``"METHOD /path/template"`` (any outcome)."""
        with self._lock:
            return dict(Counter(f"{r['method']} {template_of(r['path'])}" for r in self._records))

    def messages(self) -> list[dict[str, Any]]:
        """Copies of the delivered messages, oldest first."""
        with self._lock:
            return copy.deepcopy(self._messages)

    def queue_fault(self, fault: Fault) -> None:
        """Queue a fault for the next matching request(s)."""
        with self._lock:
            self._faults.append(replace(fault, params=dict(fault.params), match=dict(fault.match)))

    def pending_faults(self) -> list[dict[str, Any]]:
        """The queued faults, in the order they are tried."""
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def clear_faults(self) -> int:
        """Drop all queued faults and return how many there were."""
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count

    def fault_needs_body(self, *, is_send: bool) -> bool:
        """Whether picking the fault for this request depends on its body (a ``match``)."""
        with self._lock:
            for fault in self._faults:
                if not fault.match:
                    return False
                if is_send:
                    return True
            return False

    def take_fault(self, *, is_send: bool, body: object) -> Fault | None:
        """Pop one use of the first queued fault that applies to the request."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.applies_to(is_send=is_send, body=body):
                    fault.count -= 1
                    if fault.count <= 0:
                        del self._faults[index]
                    return replace(fault, count=1)
            return None

    def reset(self) -> None:
        """Forget records, messages, quota counts, the request window, faults, conversations
        and invitations (keeps key, accounts, limits and configured connections)."""
        if self.rate is not None:
            self.rate.clear()
        with self._lock:
            self.conversations.clear_locked()
            self.connections.clear_locked()
            self._generation += 1
            self._seq = 0
            self._records = []
            self._messages = []
            self._sent.clear()
            self._faults.clear()
