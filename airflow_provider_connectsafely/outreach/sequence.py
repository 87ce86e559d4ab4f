"""Sequences: a first message, follow-ups days later, stopped for a person who replies.

No Airflow imports here. Each run of :class:`SequenceRun` enrols new recipients, reads
replies with few API calls, and sends every due step through the same claim protocol as a
single send, so retries, reruns, parallel runs and crashes never send a step twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely.clock import Clock
from airflow_provider_connectsafely.errors import ConnectSafelyError, RateLimitError
from airflow_provider_connectsafely.ledger import sequences as state
from airflow_provider_connectsafely.ledger.records import DEFAULT_ACCOUNT, NewSend
from airflow_provider_connectsafely.outreach import outcomes as status
from airflow_provider_connectsafely.outreach.batch import (
    BY_ACCOUNT_VARIANT,
    PROBLEMS_LOGGED,
    BatchItem,
    invalid,
    would_send_by_account_variant,
)
from airflow_provider_connectsafely.outreach.delivery import WaitRequired
from airflow_provider_connectsafely.outreach.opt_out import OptOutDetector
from airflow_provider_connectsafely.outreach.outcomes import Outcome
from airflow_provider_connectsafely.outreach.reply_check import ReplyCheck, ReplyReader

if TYPE_CHECKING:
    from airflow_provider_connectsafely.api.models import MessageRequest
    from airflow_provider_connectsafely.ledger.records import LedgerEntry
    from airflow_provider_connectsafely.ledger.sequences import Enrollment, SequenceStore
    from airflow_provider_connectsafely.outreach.accounts import AccountPool
    from airflow_provider_connectsafely.outreach.delivery import GuardedSender
    from airflow_provider_connectsafely.outreach.invitations import Invitations
    from airflow_provider_connectsafely.outreach.recipient_windows import RecipientWindows
    from airflow_provider_connectsafely.outreach.steps import SequenceStep

ON_REMOVED = ("continue", "stop")
#: This run's statuses besides the send outcomes: not due yet, or stopped by a reply.
WAITING = "waiting"
REPLIED = "replied"

RunIds = tuple[str, str, str, int]
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class SequenceRun:
    """One scheduled run of a sequence.

    :param campaign: the sequence's identity in the ledger.
    :param steps: the steps, in order.
    :param store: enrolments and reply watermarks.
    :param sender: sends a step at most once (None for a dry run).
    :param build: ``(enrollment, message, subject) -> request`` for a step: the first step
        to the recipient, later ones into the conversation.
    :param render: ``(step, enrollment data, step number, variant) -> (message, subject)``;
        ``variant`` is the recipient's variant of a step with variants, else None.
    :param replies: where replies are read; None sends without checking (no stop on reply).
    :param run: ``(dag_id, task_id, run_id, map_index)`` of the running task, or None.
    :param on_removed: ``continue`` (default): an enrolled person missing from this run's
        recipients goes on with the sequence; ``stop``: they are marked ``removed``.
    :param min_interval: seconds between two sends.
    :param clock: the current time (the ledger's clock by default).
    :param log: where progress and problems are logged.
    :param sleep: how to wait between sends.
    :param windows: the sending window on each recipient's clock (read from their row at
        enrolment); a due step outside it waits. None: send any time.
    :param accounts: several LinkedIn accounts: each new recipient is enrolled with one (the
        account that contacted them before, else the one with most room), an account that
        refuses (401/403) is out of rotation for the run. None: each request's own account.
    :param invitations: sends the connect steps and reads acceptance (needed when a step is
        a connect step).
    :param render_note: ``(step, enrollment data, step number) -> note`` of a connect step.
    :param opt_out: decides whether a reply asks to stop (the person is then suppressed
        everywhere); None: a reply only stops this sequence.
    :param reply_window: how long after the last step replies are still read (and recorded,
        the enrolment moving from ``finished`` to ``replied``), so the last step's reply rate
        counts; None: replies are read only while a step is left.
    """

    campaign: str
    steps: Sequence[SequenceStep]
    store: SequenceStore
    sender: GuardedSender | None
    build: Callable[[Enrollment, str, str | None], MessageRequest]
    render: Callable[[SequenceStep, dict[str, Any], int, str | None], tuple[str, str | None]]
    replies: ReplyReader | None = None
    run: RunIds | None = None
    on_removed: str = "continue"
    min_interval: float = 0.0
    clock: Clock | None = None
    log: logging.Logger | Any = field(default_factory=lambda: logging.getLogger(__name__))
    sleep: Callable[[float], None] = time.sleep
    windows: RecipientWindows | None = None
    accounts: AccountPool | None = None
    invitations: Invitations | None = None
    render_note: Callable[[SequenceStep, dict[str, Any], int], str | None] | None = None
    opt_out: OptOutDetector | None = None
    reply_window: timedelta | None = None
    #: Why this run stopped sending (every account out of rotation, or the only one refused).
    stopped: str | None = field(default=None, init=False)
    #: The due steps' ledger rows, read in bulk before sending (see :meth:`_prefetch`).
    _bulk_keys: set[str] = field(default_factory=set, init=False, repr=False)
    _bulk_rows: dict[str, LedgerEntry] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.on_removed not in ON_REMOVED:
            raise ValueError(f"on_removed must be one of {ON_REMOVED}, got {self.on_removed!r}")
        if self.sender is not None and self.invitations is None and any(s.connects for s in self.steps):
            raise ValueError("a sequence with a connect step needs invitations=")
        self._now: Clock = self.clock or self.store.ledger.clock
        self._variants = [step.variant_set() for step in self.steps]

    def variant_of(self, recipient: str, index: int) -> str | None:
        """The variant of step ``index`` (from 0) for ``recipient``; None without variants."""
        variants = self._variants[index]
        return variants.choose(self.campaign, recipient, index + 1) if variants is not None else None

    def execute(
        self,
        items: list[BatchItem],
        *,
        dry_run: bool = False,
        present: set[str] | None = None,
        known: set[str] | None = None,
    ) -> dict[str, Any]:
        """Enrol, check replies, send what is due; return the summary and the outcomes of
        the people this run acted on or has something to say about.

        :param items: this run's recipients, rendered with step 1 and validated (the operator
            leaves out the rows of people already enrolled: see ``present``).
        :param present: the identities of this run's recipients that are not in ``items``
            (for ``on_removed="stop"``).
        :param known: who is enrolled already, when the caller has read it.
        :raises WaitRequired: a cap or the API's rate limit: run again after the reset.
        :raises WindowClosed: once every other due step is sent, for the due steps of
            recipients outside their sending window.
        """
        if self.windows is not None:
            self.windows.screen(items)
        invalid_items = [invalid(i) for i in items if i.request is None]
        people = {self._identity(i): i for i in items if i.request is not None}
        if dry_run:
            return self._dry_run(people, invalid_items)
        enrolled = self.store.enroll(self.campaign, self._newcomers(people, known))
        self.store.reconcile(self.campaign, len(self.steps))
        removed: list[str] = []
        if self.on_removed == "stop":
            removed = self.store.remove_absent(
                self.campaign, set(people) | (present or set()), "left the recipients (on_removed='stop')"
            )
        replied: list[Enrollment] = []
        if self.replies is not None:
            finished_since = self._now() - self.reply_window if self.reply_window else None
            check = ReplyCheck(
                self.campaign,
                self.store,
                self.replies,
                self._now,
                self.due_step,
                self.log,
                self._refused,
                self.opt_out,
                finished_since=finished_since,
            )
            try:
                replied = check.run()
            except RateLimitError as exc:
                # A hold on the reads: no step goes out without them, and the run pauses as
                # for a hold on a send (on_limit), rather than failing the task.
                reset_at = exc.reset_at or self._now() + timedelta(seconds=60)
                raise WaitRequired(reset_at, f"RateLimitError while reading replies: {exc.message}") from exc
        counts = self.store.counts(self.campaign)
        live = sum(counts.get(name, 0) for name in state.LIVE)
        due = self.store.due(self.campaign, [step.wait for step in self.steps], self._now())
        this_run = self._send_due(due)
        for outcome in invalid_items:
            self.log.warning("Recipient %s: not enrolled: %s", outcome.recipient, outcome.reason)
        news = [*this_run, *(e.recipient for e in replied), *removed]
        return self._report(enrolled, news, this_run, invalid_items, live - len(this_run))

    def _newcomers(
        self, people: dict[str, BatchItem], known: set[str] | None = None
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """``(recipient, account, data)`` of those not enrolled yet; with several accounts,
        each is given one (see :meth:`AccountPool.assign`)."""
        if known is None:
            known = self.store.recipients(self.campaign) if people else set()
        fresh = {who: item for who, item in people.items() if who not in known}
        if self.accounts is None:
            return [(who, _account(i.request), _data(i)) for who, i in fresh.items()]
        self.accounts.remember(fresh)
        return [(who, self.accounts.assign(who), _data(item)) for who, item in fresh.items()]

    # -- the steps ---------------------------------------------------------------------

    def due_step(self, enrollment: Enrollment) -> int | None:
        """The index of the step due now, or None (not yet, or none left)."""
        if enrollment.step >= len(self.steps):
            return None
        if enrollment.state == state.UNKNOWN:
            return enrollment.step  # settled or not, the sender decides again
        base = enrollment.last_sent_at if enrollment.step else enrollment.enrolled_at
        due = (base or self._now()) + self.steps[enrollment.step].wait
        return enrollment.step if self._now() >= due else None

    def _send_due(self, live: list[Enrollment]) -> dict[str, dict[str, Any]]:
        """Send each due step of ``live``; return this run's outcome per recipient acted on
        (those not due yet are left out)."""
        assert self.sender is not None
        self._prefetch(live)
        done: dict[str, dict[str, Any]] = {}
        held: list[str] = []  # the time zone of each due step outside its window
        capped: list[WaitRequired] = []  # an account's cap reached: its people wait
        skips: dict[str, list[str]] = {}  # why due steps were held, for the ledger page
        # (account, connect step?) -> its cap's wait: the account's other people of that kind
        # wait too, without a request each (a relationship read before every capped invitation
        # spent the API's request rate on a backlog that cannot go out this run).
        full: dict[tuple[str, bool], WaitRequired] = {}
        last: float | None = None
        for enrollment in live:
            index = self.due_step(enrollment)
            if index is None:
                continue
            if self._held(enrollment, index, held, done):
                if done[enrollment.recipient]["status"] == WAITING:
                    skips.setdefault(state.SKIP_WINDOW, []).append(enrollment.recipient)
                continue
            blocked = self._blocked(enrollment, index)
            if blocked is not None:
                done[enrollment.recipient] = blocked
                continue
            cap = full.get((enrollment.account, self.steps[index].connects))
            if cap is not None:
                skips.setdefault(state.SKIP_CAP, []).append(enrollment.recipient)
                done[enrollment.recipient] = {"status": WAITING, "step": index + 1, "reason": cap.reason}
                continue
            if last is not None and self.min_interval > 0:
                self.sleep(max(0.0, self.min_interval - (time.monotonic() - last)))
            try:
                outcome = self._send_step(enrollment, index)
            except WaitRequired as wait:
                if wait.account is None:
                    raise  # the API's rate limit: the whole run waits
                capped.append(wait)
                skips.setdefault(state.SKIP_CAP, []).append(enrollment.recipient)
                full[(enrollment.account, self.steps[index].connects)] = wait
                done[enrollment.recipient] = {"status": WAITING, "step": index + 1, "reason": wait.reason}
                continue
            except ConnectSafelyError as exc:
                if not exc.stops_batch:
                    raise
                # A read before the step (was the invitation accepted?) refused by the account.
                why = f"{type(exc).__name__}: {exc.message}"
                outcome = Outcome(status.FAILED, enrollment.recipient, reason=why, error=exc)
            done[enrollment.recipient] = {"status": outcome.status, "step": index + 1}
            variant = self.variant_of(enrollment.recipient, index)
            if variant is not None:
                done[enrollment.recipient]["variant"] = variant
            if outcome.reason and outcome.status != status.SENT:
                done[enrollment.recipient]["reason"] = outcome.reason
            if outcome.status == status.SENT or outcome.error is not None:
                last = time.monotonic()
            if outcome.stops_batch:
                self._refused(enrollment.account, outcome.reason or "refused")
                refused = self._blocked(enrollment, index)
                assert refused is not None  # out of rotation now, or the run stopped
                done[enrollment.recipient] = refused
        for reason, who in skips.items():
            self.store.note_skipped(self.campaign, who, reason, self._now())
        if self.stopped is not None:
            return done  # the run fails: no waiting for caps or windows
        waits: list[WaitRequired] = list(capped)
        if held and self.windows is not None:
            waits.append(self.windows.closed(held))
        if waits:
            raise min(waits, key=lambda wait: wait.reset_at)
        return done

    def _prefetch(self, live: list[Enrollment]) -> None:
        """Read the ledger rows of the due message steps' keys in bulk (as the batch does),
        so each send saves its own lookup."""
        keys = []
        for enrollment in live:
            index = self.due_step(enrollment)
            if index is not None and not self.steps[index].connects:
                keys.append(self._key(enrollment, index))
        self._bulk_keys = set(keys)
        self._bulk_rows = self.store.ledger.get_many(keys) if keys else {}

    def _key(self, enrollment: Enrollment, index: int) -> str:
        return f"sequence:{self.campaign}:{index + 1}:{enrollment.recipient}"

    def _refused(self, account: str, reason: str) -> None:
        """``account`` answered 401/403: with several accounts it leaves the rotation for this
        run (its people wait, enrolled with it), and the run stops once none is left; with one
        account the run stops."""
        pool = self.accounts
        if pool is None or account == DEFAULT_ACCOUNT:
            self.stopped = self.stopped or reason
            return
        pool.retire(account, reason)
        self.log.warning("LinkedIn account %s is out of rotation for this run: %s", account, reason)
        self._stop_when_no_account_is_left()

    def _blocked(self, enrollment: Enrollment, index: int) -> dict[str, Any] | None:
        """This run's outcome of a due step that cannot go out (its account is out of
        rotation, or the run stopped): it waits, the enrolment kept. None when it can go."""
        pool = self.accounts
        if pool is not None and enrollment.account in pool.retired:
            self._stop_when_no_account_is_left()
            why = f"its account {enrollment.account} is out of rotation: {pool.retired[enrollment.account]}"
        elif self.stopped is not None:
            why = f"not sent, the run stopped: {self.stopped}"
        else:
            return None
        return {"status": WAITING, "step": index + 1, "reason": why}

    def _stop_when_no_account_is_left(self) -> None:
        if self.accounts is not None and not self.accounts.active and self.stopped is None:
            self.stopped = f"every LinkedIn account is out of rotation ({self.accounts.describe()})"

    def _held(
        self, enrollment: Enrollment, index: int, held: list[str], done: dict[str, dict[str, Any]]
    ) -> bool:
        """Whether the due step waits for the recipient's window (noted in ``held``). A time
        zone in the enrolment's row that does not exist fails the enrolment."""
        if self.windows is None:
            return False
        try:
            tz = self.windows.timezone_of(enrollment.data)
        except ConnectSafelyError as exc:
            self.store.set_state(enrollment, state.FAILED, error=exc.message)
            done[enrollment.recipient] = {"status": status.FAILED, "step": index + 1, "reason": exc.message}
            return True
        note = self.windows.note(tz)
        if note is None:
            return False
        held.append(tz)
        done[enrollment.recipient] = {"status": WAITING, "step": index + 1, "reason": note}
        return True

    def _send_step(self, enrollment: Enrollment, index: int) -> Any:
        assert self.sender is not None
        step = self.steps[index]
        key = self._key(enrollment, index)
        if step.connects:
            assert self.invitations is not None
            note = self.render_note(step, enrollment.data, index + 1) if self.render_note else None
            outcome = self.invitations.send(enrollment, key, note, self.run)
            return self._record(enrollment, index, key, outcome)
        waiting = self._until_accepted(enrollment, index)
        if waiting is not None:
            return waiting
        variant = self.variant_of(enrollment.recipient, index)
        message, subject = self.render(step, enrollment.data, index + 1, variant)
        request = self.build(enrollment, message, subject)
        dag_id, task_id, run_id, map_index = self.run or (None, None, None, None)
        spec = NewSend(
            key,
            enrollment.account,
            request.recipient,
            dag_id,
            task_id,
            run_id,
            map_index,
            step=index + 1,
            variant=variant,
        )
        if key in self._bulk_keys:
            self._bulk_keys.discard(key)  # read once: a second try reads it again
            outcome = self.sender.send(request, spec, self._bulk_rows.get(key))
        else:
            outcome = self.sender.send(request, spec)
        return self._record(enrollment, index, key, outcome)

    def _until_accepted(self, enrollment: Enrollment, index: int) -> Outcome | None:
        """A message right after a connect step waits until the invitation is accepted (one
        relationship read), or ends the enrolment once ``give_up_after`` has passed."""
        from airflow_provider_connectsafely.outreach.invitations import GAVE_UP

        if index == 0 or not self.steps[index - 1].connects or self.invitations is None:
            return None
        reason = self.invitations.waiting(enrollment, self.steps[index - 1], self._now())
        if reason is None:
            if enrollment.skip_reason not in (state.SKIP_CONNECTED, state.SKIP_INVITED):
                self.store.mark_accepted(enrollment, self._now())  # our own request, accepted
            return None
        if reason.startswith(GAVE_UP):
            self.store.set_state(enrollment, state.FINISHED, error=reason)
            self.log.info("Recipient %s: %s: the sequence ends for them", enrollment.recipient, reason)
            return Outcome(state.FINISHED, enrollment.recipient, reason=reason)
        return Outcome(WAITING, enrollment.recipient, reason=reason)

    def _record(self, enrollment: Enrollment, index: int, key: str, outcome: Outcome) -> Outcome:
        """Move the enrolment on after a step's outcome."""
        if outcome.suppressed:
            self.store.set_state(enrollment, state.SUPPRESSED, error=outcome.reason)
            self.log.info(
                "Recipient %s: %s: the sequence ends for them", enrollment.recipient, outcome.reason
            )
            return outcome
        if outcome.status in (status.SENT, status.SKIPPED):
            answer = outcome.response or {}
            sent_at = self._sent_at(answer, key, outcome.status)
            self.store.advance(
                enrollment,
                sent_at=sent_at,
                conversation_urn=answer.get("conversationUrn"),
                finished=index + 1 >= len(self.steps),
                skipped=self._skip_reason(index, outcome),
            )
            outcome.status = status.SENT if outcome.status == status.SENT else status.SKIPPED
        elif outcome.status == status.UNKNOWN:
            self.store.set_state(enrollment, state.UNKNOWN, error=outcome.reason)
        elif outcome.status == status.FAILED:
            retry_later = outcome.error is not None and (
                (outcome.error.delivered is False and outcome.error.retryable)
                or outcome.error.stops_batch  # the account or key is at fault, not the person
            )
            if not retry_later:
                self.store.set_state(enrollment, state.FAILED, error=outcome.reason)
        return outcome

    def _skip_reason(self, index: int, outcome: Outcome) -> str | None:
        """A connect step skipped for the relationship (the answer is the relationship read):
        ``already connected`` or ``already invited``; None for a step that went out (now or
        in an earlier run)."""
        answer = outcome.response or {}
        if outcome.status != status.SKIPPED or not self.steps[index].connects or "connected" not in answer:
            return None
        return state.SKIP_CONNECTED if answer.get("connected") else state.SKIP_INVITED

    def _sent_at(self, answer: dict[str, Any], key: str, outcome_status: str) -> datetime:
        if outcome_status == status.SKIPPED:  # sent by an earlier run that stopped before its update
            entry = self.store.ledger.get(key)
            if entry is not None:
                return entry.updated_at
        return self._now()

    # -- reporting ---------------------------------------------------------------------

    def _report(
        self,
        enrolled: list[str],
        news: list[str],
        this_run: dict[str, dict[str, Any]],
        invalid_items: list[Any],
        not_due: int,
    ) -> dict[str, Any]:
        """The summary (counts over the whole campaign) and the outcomes of ``news``: the
        people acted on this run (a step sent, failed, unknown, skipped or held with a reason,
        a reply found, removed), then the invalid rows."""
        after = self.store.get_many(self.campaign, news)
        outcomes = []
        for enrollment in sorted(after.values(), key=lambda e: (e.enrolled_at or _EPOCH, e.recipient)):
            item = {**enrollment.to_dict(), **this_run.get(enrollment.recipient, {})}
            item.setdefault("status", enrollment.state if enrollment.state != state.ACTIVE else WAITING)
            if enrollment.state == state.REPLIED:
                item["status"] = REPLIED
            outcomes.append(item)
        outcomes.extend(o.to_dict() for o in invalid_items)
        sent_per_step: dict[str, int] = {}
        for item in this_run.values():
            if item["status"] == status.SENT:
                sent_per_step[str(item["step"])] = sent_per_step.get(str(item["step"]), 0) + 1
        counts = self.store.counts(self.campaign)
        summary = {
            "campaign": self.campaign,
            "enrolled": len(enrolled),
            "total": sum(counts.values()),
            "sent": sum(sent_per_step.values()),
            "sent_per_step": sent_per_step,
            "replied": counts.get(state.REPLIED, 0),
            "finished": counts.get(state.FINISHED, 0),
            "waiting": not_due + sum(1 for item in this_run.values() if item["status"] == WAITING),
            "failed": counts.get(state.FAILED, 0) + len(invalid_items),
            "unknown": counts.get(state.UNKNOWN, 0),
        }
        if any(v is not None for v in self._variants):
            summary["variant_results"] = self.variant_results()
        shown = ("enrolled", "sent", "replied", "finished", "waiting", "failed", "unknown")
        self.log.info(
            "Sequence %s finished its run: %s (per step: %s)",
            self.campaign,
            ", ".join(f"{name} {summary[name]}" for name in shown if summary[name]) or "nothing to do",
            sent_per_step or "none sent",
        )
        # This run's problems only: an enrolment that failed in an earlier run was logged then.
        problems = [
            o
            for o in outcomes
            if o["status"] in (status.FAILED, status.UNKNOWN)
            and (o["recipient"] in this_run or "step" not in o)
        ]
        for item in problems[:PROBLEMS_LOGGED]:
            why = item.get("reason") or item.get("error")
            self.log.warning("Recipient %s: %s: %s", item["recipient"], item["status"], why)
        if len(problems) > PROBLEMS_LOGGED:
            self.log.warning(
                "... and %d more failed or unknown recipient(s)", len(problems) - PROBLEMS_LOGGED
            )
        return {"summary": summary, "outcomes": outcomes}

    def variant_results(self) -> list[dict[str, Any]]:
        """Per step and variant over the whole campaign: sent, replied, the reply rate and
        its 95% Wilson interval."""
        from airflow_provider_connectsafely.ledger.queries import SEQUENCE, variant_counts
        from airflow_provider_connectsafely.outreach.variants import result_row

        rows = variant_counts(self.store.ledger, SEQUENCE, self.campaign)
        return [result_row(*row) for row in rows]

    def _dry_run(self, people: dict[str, BatchItem], invalid_items: list[Any]) -> dict[str, Any]:
        known = {e.recipient: e for e in self.store.enrollments(self.campaign)}
        if self.accounts is not None:  # newcomers shown with the account they would be given
            self.accounts.remember(who for who in people if who not in known)
        outcomes = []
        for who, item in people.items():
            enrollment = known.get(who)
            if enrollment is None:
                from airflow_provider_connectsafely.ledger.sequences import Enrollment

                account = self.accounts.assign(who) if self.accounts is not None else _account(item.request)
                enrollment = Enrollment(self.campaign, who, account, data=_data(item))
                enrollment.enrolled_at = self._now()
            outcomes.append(self._would(enrollment))
        outcomes.extend(self._would(e) for who, e in known.items() if who not in people)
        outcomes.extend(o.to_dict() for o in invalid_items)
        would = sum(1 for o in outcomes if o["status"] == status.WOULD_SEND)
        summary = {
            "campaign": self.campaign,
            "dry_run": True,
            "total": len(outcomes),
            "would_send": would,
            BY_ACCOUNT_VARIANT: would_send_by_account_variant(outcomes),
        }
        self.log.info("Sequence %s (dry run): %d message(s) would go out now", self.campaign, would)
        return {"summary": summary, "outcomes": outcomes}

    def _would(self, enrollment: Enrollment) -> dict[str, Any]:
        item = enrollment.to_dict()
        index = self.due_step(enrollment) if enrollment.state in (state.ACTIVE, state.UNKNOWN) else None
        if index is None:
            item["status"] = WAITING if enrollment.state == state.ACTIVE else enrollment.state
            return item
        problem = self._check_steps(enrollment, index)
        if problem is not None:
            item.update(status=status.FAILED, step=index + 1, reason=problem)
            return item
        step = self.steps[index]
        if step.connects:
            note = self.render_note(step, enrollment.data, index + 1) if self.render_note else None
            item.update(status=status.WOULD_SEND, step=index + 1, action=step.action, note=note)
        else:
            variant = self.variant_of(enrollment.recipient, index)
            message, _subject = self.render(step, enrollment.data, index + 1, variant)
            item.update(status=status.WOULD_SEND, step=index + 1, message=message)
            if variant is not None:
                item["variant"] = variant
        if self.windows is not None:
            try:
                note = self.windows.note(self.windows.timezone_of(enrollment.data))
            except ConnectSafelyError as exc:
                note = exc.message
            if note:
                item["reason"] = note
        return item

    def _check_steps(self, enrollment: Enrollment, first: int) -> str | None:
        """A dry run's check of what is left to send to one person: every variant of every
        message step from ``first`` on, rendered with their row and validated as a request.
        The first problem, naming the step and variant, or None."""
        for index in range(first, len(self.steps)):
            step = self.steps[index]
            if step.connects:
                continue
            variants = self._variants[index]
            for variant in variants.names if variants is not None else [None]:
                where = f"step {index + 1}" + (f", variant {variant!r}" if variant is not None else "")
                try:
                    message, subject = self.render(step, enrollment.data, index + 1, variant)
                    self.build(enrollment, message, subject)
                except ConnectSafelyError as exc:
                    return f"{where}: {exc.message}"
                except Exception as exc:  # a template error: this person's problem, shown as such
                    return f"{where}: rendering failed: {exc}"
        return None

    @staticmethod
    def _identity(item: BatchItem) -> str:
        assert item.identity is not None
        return item.identity


def _account(request: MessageRequest | None) -> str:
    return (request.account_id if request is not None else None) or DEFAULT_ACCOUNT


def _data(item: BatchItem) -> dict[str, Any]:
    return dict(item.data or {})
