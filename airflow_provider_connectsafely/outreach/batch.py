"""One message to many recipients, at most once each: the loop below the batch operator.

No Airflow imports here. The operator renders and validates every recipient into a
:class:`BatchItem`; :class:`BatchRun` sends them in order through a
:class:`~airflow_provider_connectsafely.outreach.delivery.GuardedSender`, paced, with
progress lines, and stops at once on an error no other recipient can get past.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely.ledger.records import SENT as LEDGER_SENT
from airflow_provider_connectsafely.ledger.records import NewSend
from airflow_provider_connectsafely.ledger.suppressions import SUPPRESSED
from airflow_provider_connectsafely.outreach import outcomes as status
from airflow_provider_connectsafely.outreach.delivery import account_key, recipient_identity
from airflow_provider_connectsafely.outreach.outcomes import Outcome, counts, counts_text

if TYPE_CHECKING:
    from airflow_provider_connectsafely.api.models import MessageRequest
    from airflow_provider_connectsafely.errors import ConnectSafelyError
    from airflow_provider_connectsafely.ledger.records import LedgerEntry
    from airflow_provider_connectsafely.ledger.store import SendLedger
    from airflow_provider_connectsafely.outreach.accounts import AccountPool
    from airflow_provider_connectsafely.outreach.delivery import GuardedSender
    from airflow_provider_connectsafely.outreach.recipient_windows import RecipientWindows
    from airflow_provider_connectsafely.outreach.variants import Variants

#: Where a recipient dict may name its recipient, in the order they are read.
RECIPIENT_KEYS = ("recipient_profile_id", "recipient_profile_urn", "profile_url")
#: The dry-run summary's key for :func:`would_send_by_account_variant`.
BY_ACCOUNT_VARIANT = "would_send_by_account_variant"
#: Failed or unknown recipients logged one by one at WARNING; the rest are counted.
PROBLEMS_LOGGED = 20

RunIds = tuple[str, str, str, int]


@dataclass
class BatchItem:
    """One recipient, rendered and validated, or with the reason it is invalid.

    :param index: position in the input.
    :param recipient: the recipient as shown in outcomes.
    :param request: the validated request, when valid.
    :param key: its dedupe key in the ledger, when valid.
    :param error: why it is invalid.
    :param identity: the recipient as it keys the ledger, when valid.
    :param data: the recipient's row (personalisation fields).
    :param variant: the message variant chosen for the recipient, when the message has some.
    """

    index: int
    recipient: str
    request: MessageRequest | None = None
    key: str | None = None
    error: ConnectSafelyError | None = None
    identity: str | None = None
    data: dict[str, Any] | None = None
    variant: str | None = None


def prepare_items(
    rows: list[Any],
    render: Callable[..., tuple[str, str | None]],
    *,
    campaign: str,
    message_type: str = "normal",
    account_id: str | None = None,
    limits: Any = None,
    endpoint: str = "messaging",
    only: Iterable[int] | None = None,
    variants: Variants | None = None,
    step: int = 1,
    variants_field: str = "message_variants",
) -> list[BatchItem]:
    """Render and validate every row before anything is sent: an invalid row becomes an
    item with its error (reported as failed), never a reason to stop the batch.

    :param rows: dicts with a recipient field (see :data:`RECIPIENT_KEYS`) and any
        personalisation fields; a plain string is a profile ID or URL.
    :param render: the recipient's dict to its ``(message, subject)``; with ``variants``,
        ``(dict, variant name)`` to that variant's.
    :param campaign: the dedupe scope: one message per campaign and recipient, ever.
    :param message_type: ``normal`` or ``inmail``.
    :param account_id: the LinkedIn account to send from (None: the API's default).
    :param limits: length limits for the request model.
    :param endpoint: the send endpoint, ``messaging`` or ``conversations``.
    :param only: the positions of the rows to prepare, in order (the others are left out);
        None: every row. Items keep their position in ``rows``.
    :param variants: the message's variants: each is rendered and validated for every row (a
        row is invalid when any is, the error naming the variant), and the row's own (chosen
        from ``campaign``, ``step`` and its identity) is its request.
    :param step: the sequence step the variants belong to (1 for a batch).
    :param variants_field: the argument holding the variants, as errors name it.
    """
    from airflow_provider_connectsafely.api.conversation_send import build_send_request
    from airflow_provider_connectsafely.errors import ConnectSafelyValidationError

    def build(data: dict[str, Any], index: int, variant: str | None) -> MessageRequest:
        where = "message" if variant is None else f"{variants_field}[{variant!r}]"
        try:
            message, subject = render(data) if variant is None else render(data, variant)
        except Exception as exc:  # a template error is this recipient's problem, not the batch's
            raise ConnectSafelyValidationError(
                where, f"rendering failed for item {index}: {exc}", "check the template's variables"
            ) from exc
        try:
            return build_send_request(
                endpoint=endpoint,
                message=message,
                recipient_profile_id=data.get("recipient_profile_id") or data.get("profile_url"),
                recipient_profile_urn=data.get("recipient_profile_urn"),
                subject=subject,
                message_type=message_type,
                account_id=account_id,
                limits=limits,
            )
        except ConnectSafelyValidationError as exc:
            if variant is None or exc.field not in ("message", "subject"):
                raise
            field = where if exc.field == "message" else f"subject of {where}"
            raise ConnectSafelyValidationError(field, exc.problem, exc.fix) from exc

    items = []
    for index in range(len(rows)) if only is None else only:
        row = rows[index]
        data = {"recipient_profile_id": row} if isinstance(row, str) else row
        item = BatchItem(index, describe_recipient(data))
        items.append(item)
        try:
            if not isinstance(data, dict):
                raise ConnectSafelyValidationError(
                    "recipients", f"item {index} is {type(data).__name__}", "give a dict per recipient"
                )
            if variants is None:
                request = build(data, index, None)
            else:
                built = {name: build(data, index, name) for name in variants.names}
                item.variant = variants.choose(campaign, recipient_identity(built[variants.names[0]]), step)
                request = built[item.variant]
        except ConnectSafelyValidationError as exc:
            item.error = exc
            continue
        except Exception as exc:  # e.g. a template that renders to no text
            item.error = ConnectSafelyValidationError(
                "message", f"rendering failed for item {index}: {exc}", "check the template's variables"
            )
            continue
        item.request = request
        item.recipient = request.recipient
        item.identity = recipient_identity(request)
        item.data = data
        item.key = f"campaign:{campaign}:{item.identity}"
    return items


def row_identity(row: Any) -> str | None:
    """The identity :func:`prepare_items` would give a row (the rule of
    :func:`~airflow_provider_connectsafely.outreach.delivery.recipient_identity`, profile URLs
    reduced to their ID), without rendering anything; None when its recipient is invalid."""
    from airflow_provider_connectsafely.api.models import check_recipient
    from airflow_provider_connectsafely.errors import ConnectSafelyValidationError

    data = {"recipient_profile_id": row} if isinstance(row, str) else row
    if not isinstance(data, dict):
        return None
    try:
        profile_id, profile_urn = check_recipient(
            data.get("recipient_profile_id") or data.get("profile_url"), data.get("recipient_profile_urn")
        )
    except ConnectSafelyValidationError:
        return None
    return (profile_id or "").lower() or profile_urn or None


def describe_recipient(data: Any) -> str:
    """A short name for a recipient row, for outcomes and logs."""
    if isinstance(data, dict):
        for key in RECIPIENT_KEYS:
            if data.get(key):
                return str(data[key])
    return repr(data)[:80]


@dataclass
class BatchRun:
    """Sends a batch through ``sender``, in order.

    :param sender: checks the ledger and the cap, sends, records.
    :param use_ledger: False sends without dedupe keys.
    :param on_unknown: the sender's policy for earlier unknown outcomes.
    :param run: ``(dag_id, task_id, run_id, map_index)`` of the running task, or None.
    :param min_interval: seconds between two requests, randomised by ``jitter``.
    :param jitter: fraction of ``min_interval`` added or removed at random.
    :param progress_every: log progress at least every this many seconds.
    :param log: where progress and problems are logged.
    :param sleep: how to wait between sends (tests pass a fake).
    :param windows: the sending window on each recipient's clock; None: send any time.
    :param accounts: several LinkedIn accounts to spread the recipients over (each request's
        own account is then replaced); None sends from each request's account.
    :param ledger: the ledger a dry run reads the do-not-contact list from (sends read it
        through their claims).
    """

    sender: GuardedSender | None
    use_ledger: bool = True
    on_unknown: str = "fail"
    run: RunIds | None = None
    min_interval: float = 0.0
    jitter: float = 0.25
    progress_every: float = 30.0
    log: logging.Logger | Any = field(default_factory=lambda: logging.getLogger(__name__))
    sleep: Callable[[float], None] = time.sleep
    windows: RecipientWindows | None = None
    accounts: AccountPool | None = None
    ledger: SendLedger | None = None

    def send_all(self, items: list[BatchItem], known: dict[str, LedgerEntry]) -> list[Outcome]:
        """Send to every valid item once; ``known`` holds the items' ledger rows, read in bulk.

        :raises WaitRequired: the cap is reached or the API asks to wait; what was sent is
            in the ledger, so running again resumes where this stopped.
        :raises WindowClosed: once everyone else is done, for the recipients outside their
            sending window.
        """
        assert self.sender is not None
        if self.windows is not None:
            self.windows.screen(items)
        if self.accounts is not None:
            self.accounts.remember(i.identity for i in items if i.identity and i.request is not None)
        capped: list[str] = []  # recipients waiting for their account's daily cap
        progress = _Progress(len(items), self.progress_every, self.log)
        done: list[Outcome] = []
        held: list[str] = []  # the time zone of each recipient outside their window
        last_attempt: float | None = None
        for position, item in enumerate(items):
            if item.error is not None or item.request is None or item.key is None:
                done.append(invalid(item))
                progress.step(status.FAILED)
                continue
            entry = known.get(item.key)
            if self._sent_by_this_task(entry):
                assert entry is not None
                done.append(
                    Outcome(
                        status.SENT,
                        item.recipient,
                        item.key,
                        entry.response,
                        "sent by an earlier try",
                        variant=entry.variant,
                    )
                )
                progress.step(status.SENT)
                continue
            if self._held(item, entry, held):
                continue
            if self._may_send(entry) and last_attempt is not None:
                self._pace(last_attempt)
            if self.accounts is None:
                outcome = self.sender.send(item.request, self._spec(item) if self.use_ledger else None, entry)
            else:
                pooled = self._send_from_pool(item, entry)
                if pooled is None:
                    capped.append(item.recipient)
                    continue
                outcome = pooled
            if item.variant is not None and outcome.status in (status.SENT, status.UNKNOWN):
                outcome.variant = item.variant
            done.append(outcome)
            progress.step(outcome.status)
            if outcome.status == status.SENT or outcome.error is not None:
                last_attempt = time.monotonic()
            if outcome.stops_batch and (self.accounts is None or not self.accounts.active):
                done.extend(
                    Outcome(status.NOT_ATTEMPTED, rest.recipient, reason="batch stopped")
                    for rest in items[position + 1 :]
                )
                return done
        self._wait_for_the_rest(held, capped)
        return done

    def _send_from_pool(self, item: BatchItem, entry: LedgerEntry | None) -> Outcome | None:
        """Send ``item`` from the pool's account for it; None when it waits for a cap. An
        account that refuses (401/403) leaves the rotation: a new recipient is tried on the
        next account at once, one who belongs to it is not attempted (never moved to another
        account). The refusal itself is returned only when no account is left."""
        from dataclasses import replace

        from airflow_provider_connectsafely.outreach.delivery import _UNSET, WaitRequired

        pool, sender = self.accounts, self.sender
        assert pool is not None and sender is not None and item.request is not None and item.identity
        existing: Any = entry
        while True:
            own = pool.sticky(item.identity)
            if own is not None and own in pool.retired:
                reason = (
                    f"its account {own} (which contacted them first) is out of rotation: {pool.retired[own]}"
                )
                return Outcome(status.NOT_ATTEMPTED, item.recipient, item.key, reason=reason)
            if not pool.active:
                reason = f"every LinkedIn account is out of rotation ({pool.describe()})"
                return Outcome(status.NOT_ATTEMPTED, item.recipient, item.key, reason=reason)
            account = pool.pick(item.identity)
            if account is None:
                return None
            item.request = replace(item.request, account_id=account)
            try:
                outcome = sender.send(item.request, self._spec(item), existing)
            except WaitRequired as wait:
                if wait.account is None:
                    raise
                pool.full(wait.account)  # other tasks used the rest of its cap
                continue
            if outcome.status == status.SENT or (outcome.status == status.UNKNOWN and outcome.error):
                pool.count(account)
            if outcome.status in (status.SENT, status.UNKNOWN, status.IN_FLIGHT):
                pool.bind(item.identity, account)
            if not outcome.stops_batch:
                return outcome
            pool.retire(account, outcome.reason or "refused")
            self.log.warning(
                "LinkedIn account %s is out of rotation for this run: %s", account, outcome.reason
            )
            if not pool.active:
                return outcome
            existing = _UNSET  # its row changed: the sender reads it again

    def _wait_for_the_rest(self, held: list[str], capped: list[str]) -> None:
        """Raise the wait for recipients held by a closed window or a full account, for
        whichever opens first; return when none are held."""
        from airflow_provider_connectsafely.outreach.delivery import WaitRequired

        waits: list[WaitRequired] = []
        if held and self.windows is not None:
            waits.append(self.windows.closed(held))
        if capped and self.accounts is not None:
            reset_at = self.accounts.reset_at()
            assert reset_at is not None
            full = ", ".join(a for a in self.accounts.accounts if not self.accounts.has_room(a))
            waits.append(
                WaitRequired(
                    reset_at,
                    f"{len(capped)} recipient(s) wait for their LinkedIn account's daily cap "
                    f"({self.accounts.describe()})",
                    account=full or None,
                )
            )
        if waits:
            raise min(waits, key=lambda wait: wait.reset_at)

    def dry_run(self, items: list[BatchItem], known: dict[str, LedgerEntry]) -> list[Outcome]:
        """What :meth:`send_all` would do now, sending and recording nothing."""
        if self.windows is not None:
            self.windows.screen(items)
        if self.accounts is not None:
            self.accounts.remember(i.identity for i in items if i.identity and i.request is not None)
        done = []
        blocked = self._suppressed(items)
        for item in items:
            entry = known.get(item.key or "")
            if item.error is not None or item.request is None:
                done.append(invalid(item))
            elif entry is not None and entry.state == LEDGER_SENT:
                done.append(
                    Outcome(status.SKIPPED, item.recipient, reason="already sent", variant=entry.variant)
                )
            elif item.identity in blocked:
                reason = f"{SUPPRESSED}: on the do-not-contact list"
                done.append(Outcome(status.SKIPPED, item.recipient, item.key, reason=reason, suppressed=True))
            else:
                note = self.windows.note(self.windows.timezone_of(item.data)) if self.windows else None
                account: str | None = account_key(item.request)
                if self.accounts is not None and item.identity:
                    account, said = self._would_send_from(item.identity)
                    note = "; ".join(filter(None, [said, note]))
                done.append(
                    Outcome(
                        status.WOULD_SEND,
                        item.recipient,
                        reason=note,
                        message=item.request.message,
                        variant=item.variant,
                        account=account,
                    )
                )
        return done

    def _suppressed(self, items: list[BatchItem]) -> set[str]:
        """The identities of ``items`` on the do-not-contact list for this campaign (a dry
        run's preview; real sends are refused by their claims)."""
        ledger = self.ledger
        keyed = [item for item in items if item.identity and item.key]
        if ledger is None or not keyed:
            return set()
        from airflow_provider_connectsafely.ledger.suppressions import SuppressionList

        assert keyed[0].key is not None
        return SuppressionList(ledger).suppressed_among([i.identity or "" for i in keyed], keyed[0].key)

    def _would_send_from(self, identity: str) -> tuple[str | None, str]:
        """The account a dry run would send from (None: all full) and what to say of it."""
        pool = self.accounts
        assert pool is not None
        account = pool.pick(identity)
        if account is None:
            return None, "waits for its account's daily cap"
        pool.bind(identity, account)
        pool.count(account)
        return account, f"from account {account}"

    def counts_as_failure(self, outcome: Outcome) -> bool:
        """Failed or unknown; an earlier attempt's unknown outcome is not this run's failure
        when the user chose ``on_unknown='skip'``."""
        if outcome.status == status.FAILED:
            return True
        if outcome.status != status.UNKNOWN:
            return False
        return self.on_unknown != "skip" or outcome.error is not None

    def stop_reason(self, done: list[Outcome]) -> str | None:
        """Why the batch stopped short, or None. With one account: an error no other recipient
        can get past. With several: every account is out of rotation while someone was left
        unsent; an account that refuses while another is active stops nothing."""
        if self.accounts is None:
            fatal = next((o for o in done if o.stops_batch), None)
            return (fatal.reason or "refused") if fatal is not None else None
        left = any(o.stops_batch or o.status == status.NOT_ATTEMPTED for o in done)
        if self.accounts.active or not left:
            return None
        return f"every LinkedIn account is out of rotation ({self.accounts.describe()})"

    def report(self, done: list[Outcome], *, dry_run: bool = False) -> dict[str, Any]:
        """Log the summary and every problem (bounded); return the summary and outcomes."""
        summary: dict[str, Any] = {"total": len(done), "dry_run": dry_run, **counts(done)}
        if dry_run:
            summary[BY_ACCOUNT_VARIANT] = would_send_by_account_variant(o.to_dict() for o in done)
        self.log.info(
            "Batch finished: %d recipient(s): %s", len(done), counts_text(summary) or "nothing to do"
        )
        problems = [o for o in done if o.status in (status.FAILED, status.UNKNOWN, status.NOT_ATTEMPTED)]
        for outcome in problems[:PROBLEMS_LOGGED]:
            self.log.warning("Recipient %s: %s: %s", outcome.recipient, outcome.status, outcome.reason)
        if len(problems) > PROBLEMS_LOGGED:
            self.log.warning(
                "... and %d more failed, unknown or not attempted recipient(s); every outcome is in "
                "the task's XCom",
                len(problems) - PROBLEMS_LOGGED,
            )
        return {"summary": summary, "outcomes": [o.to_dict() for o in done]}

    def _sent_by_this_task(self, entry: LedgerEntry | None) -> bool:
        """Sent by this same task and run before a deferral, retry or crash."""
        return (
            self.use_ledger
            and entry is not None
            and entry.state == LEDGER_SENT
            and self.run is not None
            and (entry.dag_id, entry.task_id, entry.run_id, entry.map_index) == self.run
        )

    def _held(self, item: BatchItem, entry: LedgerEntry | None, held: list[str]) -> bool:
        """Whether a send to ``item`` waits for its window (noted in ``held``); only a
        recipient who would get a request now waits."""
        if self.windows is None or not self._may_send(entry):
            return False
        tz = self.windows.timezone_of(item.data)
        if self.windows.note(tz) is None:
            return False
        held.append(tz)
        return True

    def _may_send(self, entry: LedgerEntry | None) -> bool:
        return (
            entry is None
            or entry.may_send_again
            or (self.on_unknown == "resend" and entry.state != LEDGER_SENT)
        )

    def _pace(self, last_attempt: float) -> None:
        """Space requests to the API; recipients skipped without a request cost no wait."""
        if self.min_interval <= 0:
            return
        interval = max(0.0, self.min_interval * (1 + random.uniform(-self.jitter, self.jitter)))
        wait = interval - (time.monotonic() - last_attempt)
        if wait > 0:
            self.sleep(wait)

    def _spec(self, item: BatchItem) -> NewSend:
        assert item.request is not None and item.key is not None
        dag_id, task_id, run_id, map_index = self.run or (None, None, None, None)
        return NewSend(
            dedupe_key=item.key,
            account=account_key(item.request),
            recipient=item.request.recipient,
            dag_id=dag_id,
            task_id=task_id,
            run_id=run_id,
            map_index=map_index,
            variant=item.variant,
        )


def would_send_by_account_variant(outcomes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A dry run's ``would_send`` outcomes counted per account, step (sequences) and variant:
    ``[{"account", "step", "variant", "would_send"}]``, sorted; ``variant`` is None for a
    message without variants, ``step`` None in a batch, ``account`` None when every account
    is full."""
    found: dict[tuple[str, int, str], dict[str, Any]] = {}
    for outcome in outcomes:
        if outcome.get("status") != status.WOULD_SEND:
            continue
        account, step, variant = outcome.get("account"), outcome.get("step"), outcome.get("variant")
        row = found.setdefault(
            (account or "", step or 0, variant or ""),
            {"account": account, "step": step, "variant": variant, "would_send": 0},
        )
        row["would_send"] += 1
    return [found[key] for key in sorted(found)]


def invalid(item: BatchItem) -> Outcome:
    """The outcome of an item that failed rendering or validation (nothing was sent)."""
    return Outcome(status.FAILED, item.recipient, reason=str(item.error), error=item.error)


class _Progress:
    """Logs count, percent, per-status totals and time left, at most every ``every`` seconds."""

    def __init__(self, total: int, every: float, log: Any) -> None:
        self.total = total
        self.every = every
        self.log = log
        self.done = 0
        self.counts: dict[str, int] = {}
        self.started = self.last = time.monotonic()

    def step(self, outcome_status: str) -> None:
        self.done += 1
        self.counts[outcome_status] = self.counts.get(outcome_status, 0) + 1
        now = time.monotonic()
        if now - self.last < self.every and self.done < self.total:
            return
        self.last = now
        rate = self.done / max(now - self.started, 1e-9)
        left = (self.total - self.done) / rate if rate else 0.0
        self.log.info(
            "Progress: %d/%d (%.0f%%) %s; about %s left",
            self.done,
            self.total,
            100.0 * self.done / max(self.total, 1),
            counts_text(self.counts),
            _duration(left),
        )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
