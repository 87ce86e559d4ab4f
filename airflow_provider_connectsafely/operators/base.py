"""What the send operators share: the hook, the ledger, the daily cap, sending windows and deferral.

Only Airflow's task SDK is imported at module level: DAG files import this on every parse.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, NoReturn, get_args

from airflow.sdk import BaseOperator

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.operators.inputs import (
    TEMPLATE_FILES,
    check_account_args,
    check_recipient_source,
    check_window_args,
    load_recipients,
    template_loader,
)
from airflow_provider_connectsafely.operators.links import ConnectSafelyLedgerLink

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import Context

    from airflow_provider_connectsafely.api.models import MessageLimits, MessageType
    from airflow_provider_connectsafely.errors import ConnectSafelyError
    from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook
    from airflow_provider_connectsafely.ledger.store import SendLedger
    from airflow_provider_connectsafely.outreach.accounts import AccountPool
    from airflow_provider_connectsafely.outreach.delivery import GuardedSender, OnUnknown, WaitRequired
    from airflow_provider_connectsafely.outreach.outcomes import Outcome
    from airflow_provider_connectsafely.outreach.recipient_windows import RecipientWindows

#: What a task does when a cap, a rate-limit hold or a closed sending window makes it wait.
OnLimit = Literal["defer", "skip", "fail"]
ON_LIMIT: tuple[OnLimit, ...] = get_args(OnLimit)
# Defined in operators.inputs; the operator modules import them from here.
__all__ = [
    "TEMPLATE_FILES",
    "ConnectSafelyBaseOperator",
    "check_account_args",
    "check_recipient_source",
    "check_window_args",
    "load_recipients",
    "run_ids",
    "template_loader",
    "to_airflow_error",
]


class ConnectSafelyBaseOperator(BaseOperator):
    """Base of the send operators: the hook, the send ledger, the daily cap and deferral.

    Not used directly; see :class:`SendLinkedInMessageOperator` and
    :class:`SendLinkedInMessageBatchOperator` for the parameters.
    """

    #: A "ConnectSafely ledger" button on each task instance: the ledger page, filtered.
    operator_extra_links = (ConnectSafelyLedgerLink(),)

    def __init__(
        self,
        *,
        message_type: MessageType = "normal",
        account_id: str | None = None,
        connectsafely_conn_id: str = defaults.CONN_ID,
        ledger_conn_id: str | None = None,
        use_ledger: bool = True,
        on_unknown: OnUnknown = "fail",
        daily_limit: int | None = None,
        max_defer: timedelta | float = defaults.MAX_DEFER,
        on_limit: OnLimit = "defer",
        message_limits: MessageLimits | dict[str, int] | None = None,
        max_rate_limit_wait: float = defaults.MAX_RATE_LIMIT_WAIT,
        send_window: str | None = None,
        timezone: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_window_args(send_window, timezone)
        self.send_window = send_window
        self.timezone = timezone
        self.message_type = message_type
        self.account_id = account_id
        self.connectsafely_conn_id = connectsafely_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.use_ledger = use_ledger
        self.on_unknown = on_unknown
        self.daily_limit = daily_limit
        self.max_defer = max_defer if isinstance(max_defer, timedelta) else timedelta(seconds=max_defer)
        if on_limit not in ON_LIMIT:
            raise ValueError(f"on_limit must be one of {ON_LIMIT}, got {on_limit!r}")
        if daily_limit is not None and (not isinstance(daily_limit, int) or daily_limit < 0):
            raise ValueError(f"daily_limit must be a whole number >= 0 (0: no cap), got {daily_limit!r}")
        from airflow_provider_connectsafely.outreach.delivery import ON_UNKNOWN

        if on_unknown not in ON_UNKNOWN:
            raise ValueError(f"on_unknown must be one of {ON_UNKNOWN}, got {on_unknown!r}")
        self.on_limit = on_limit
        self.message_limits = message_limits
        self.max_rate_limit_wait = max_rate_limit_wait

    @cached_property
    def hook(self) -> ConnectSafelyHook:
        """The hook, built on first use (after templates rendered the connection id)."""
        from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook

        return ConnectSafelyHook(
            self.connectsafely_conn_id,
            max_rate_limit_wait=self.max_rate_limit_wait,
            message_limits=self.message_limits,
        )

    def _ledger(self) -> SendLedger | None:
        if not self.use_ledger:
            self.log.info("Send ledger is off (use_ledger=False): no dedupe and no daily cap")
            return None
        from airflow_provider_connectsafely.errors import ConnectSafelyConfigError
        from airflow_provider_connectsafely.ledger import locate

        try:
            where = locate.locate(self.ledger_conn_id, extra_ledger_conn_id=self.hook.settings.ledger_conn_id)
        except locate.LedgerUnavailable as exc:
            raise ConnectSafelyConfigError(str(exc)) from exc
        ledger = locate.open_ledger(where, self.log)
        self.log.info("Send ledger: %s", where.describe())
        self._prune_if_due(ledger, locate.retain_text_days())
        self._ledger_in_use = ledger.describe()
        return ledger

    def _sender(
        self,
        ledger: SendLedger | None,
        gate: Callable[[], None] | None = None,
        accounts: AccountPool | None = None,
    ) -> GuardedSender:
        from airflow_provider_connectsafely.outreach.delivery import GuardedSender

        limit = self._daily_limit()
        return GuardedSender(
            self.hook.send_request,
            ledger,
            daily_limit=limit,
            on_unknown=self.on_unknown,
            gate=gate,
            limit_for=None
            if accounts is None
            else lambda account: accounts.limits.get(account, limit or None),
        )

    def _prune_if_due(self, ledger: SendLedger, days: int | None) -> None:
        """``[connectsafely] retain_text_days``: the first task of a UTC day blanks older texts."""
        from airflow_provider_connectsafely.ledger.privacy import prune_if_due

        pruned = prune_if_due(ledger, days)
        if pruned is not None:
            self.log.info(
                "Retention (%d days): blanked %d stored answer(s), %d reply text(s), %d enrolment data",
                days,
                pruned.sends,
                pruned.replies,
                pruned.contexts,
            )

    def _daily_limit(self) -> int:
        for limit in (self.daily_limit, self.hook.settings.daily_limit):
            if limit is not None:
                return limit
        return defaults.DAILY_LIMIT

    def _account_pool(self, ledger: SendLedger | None, account_ids: Any, warmup: Any) -> AccountPool | None:
        """The rendered ``account_ids`` with their caps and status, or None without them."""
        if not account_ids:
            return None
        from airflow_provider_connectsafely.outreach.accounts import AccountPool, Warmup

        if isinstance(account_ids, str):  # a template rendered to text: "a, b" or a JSON list
            account_ids = [a.strip(" '\"") for a in account_ids.strip("[]").split(",") if a.strip()]
        pool = AccountPool(account_ids, ledger, self._daily_limit() or None, Warmup.of(warmup))
        pool.check_status(self.hook.list_accounts, self.log)
        return pool

    def _windows(
        self, ledger: SendLedger | None, timezone_field: str | None = None
    ) -> RecipientWindows | None:
        """The rendered ``send_window`` read on each recipient's clock, or None without one.
        Raises ConnectSafelyValidationError for a bad window or time zone (before any request)."""
        if self.send_window is None:
            return None
        from airflow_provider_connectsafely.outreach.recipient_windows import RecipientWindows

        clock = ledger.clock if ledger is not None else None
        return RecipientWindows.build(self.send_window, self.timezone, timezone_field, clock)

    def _pause(self, wait: WaitRequired, deferred_since: str | None) -> NoReturn:
        """Defer until ``wait.reset_at`` (worker slot released), or skip or fail.

        ``max_defer`` bounds each wait for an account's cap, and the total of waits for the
        API's holds (429) since the first of them. A cap wait starts the budget again (a batch
        longer than one day's cap goes on night after night); a closed sending window is waited
        for like a limit but neither counts nor is bounded."""
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        from airflow_provider_connectsafely.compat import AirflowException, AirflowSkipException
        from airflow_provider_connectsafely.outreach.recipient_windows import WindowClosed

        window = isinstance(wait, WindowClosed)
        restarts = window or wait.account is not None  # a cap resets: progress is certain
        now = datetime.now(timezone.utc)
        since = datetime.fromisoformat(deferred_since) if deferred_since and not restarts else now
        resume_at = wait.reset_at + timedelta(seconds=1)
        if self.on_limit == "skip":
            raise AirflowSkipException(f"{wait.reason}; skipped (on_limit='skip')")
        if self.on_limit == "fail":
            when = "opens" if window else "resets"
            raise AirflowException(f"{wait.reason}; {when} at {wait.reset_at.isoformat()}")
        if not window and resume_at > since + self.max_defer:
            raise AirflowException(
                f"{wait.reason}. The reset at {wait.reset_at.isoformat()} is beyond max_defer "
                f"({self.max_defer}) from {since.isoformat(timespec='seconds')}; giving up"
            )
        self.log.warning("%s. Deferring until %s", wait.reason, resume_at.isoformat())
        self.defer(
            trigger=DateTimeTrigger(moment=resume_at),
            method_name="execute_complete",
            kwargs={"deferred_since": None if restarts else since.isoformat()},
        )

    def _send_once(self, sender: Any, request: Any, spec: Any, deferred_since: str | None) -> Outcome:
        """One guarded send; a wait (a cap, a closed window, a 429 hold) defers, skips or
        fails the task as ``on_limit`` says."""
        from airflow_provider_connectsafely.outreach.delivery import WaitRequired

        try:
            return sender.send(request, spec)
        except WaitRequired as wait:
            self._pause(wait, deferred_since)

    def _not_sent_now(self, outcome: Outcome, words: str) -> dict[str, Any] | None:
        """How a single send's task ends when nothing went out now: the answer recorded by an
        earlier send (skipped), a failure, or a skip."""
        from airflow_provider_connectsafely.compat import AirflowFailException, AirflowSkipException
        from airflow_provider_connectsafely.outreach import outcomes

        if outcome.error is not None:
            raise to_airflow_error(outcome.error)
        self.log.info("%s %s: %s", words, outcome.recipient, outcome.reason)
        if outcome.status == outcomes.SKIPPED and outcome.response is not None:
            return outcome.response
        if outcome.status == outcomes.UNKNOWN and self.on_unknown != "skip":
            raise AirflowFailException(outcome.reason or "delivery unknown")
        raise AirflowSkipException(outcome.reason or "not sent")

    def render_template(
        self, content: Any, context: Context, jinja_env: Any = None, seen_oids: set[int] | None = None
    ) -> Any:
        """Render as Airflow does; a template that cannot render (an undefined variable, a
        missing template file) fails the task without retries: a retry renders the same.

        Overridden here, not in ``render_template_fields``, because mapped tasks render their
        fields through this method only.
        """
        import jinja2

        from airflow_provider_connectsafely.compat import AirflowFailException

        try:
            return super().render_template(content, context, jinja_env, seen_oids)
        except jinja2.TemplateError as exc:
            raise AirflowFailException(
                f"Template rendering failed for task {self.task_id!r}: {type(exc).__name__}: {exc}. "
                "Fix: define the variable (params, XCom, Variable) or give a default, e.g. "
                "{{ params.name | default('there') }}"
            ) from exc

    def execute(self, context: Context) -> Any:
        return self._announce(context, self._run_reporting_ledger_errors(context, None))

    def execute_complete(self, context: Context, event: Any = None, deferred_since: str | None = None) -> Any:
        """Resume after a deferral: the ledger knows what was already sent."""
        return self._announce(context, self._run_reporting_ledger_errors(context, deferred_since))

    def campaign_name(self, context: Context) -> str | None:
        """The campaign this task sends for (the batch and sequence operators have one)."""
        return None

    def _announce(self, context: Context, result: Any) -> Any:
        """Give the asset event of each ``connectsafely://campaign/<name>`` outlet an extra that
        summarises this run (outcomes/campaign_events.py); other outlets are left as they are.
        Returns ``result``."""
        from airflow.sdk import Asset

        from airflow_provider_connectsafely.assets import SCHEME

        prefix = f"{SCHEME}://campaign/"
        outlets = [o for o in self.outlets or [] if isinstance(o, Asset) and o.uri.startswith(prefix)]
        events = context.get("outlet_events") if context and outlets else None
        if events is None:
            return result
        from airflow_provider_connectsafely.outreach.campaign_events import campaign_event_extra

        outcome = getattr(self, "_outcome", None)
        now = datetime.now(timezone.utc)
        for outlet in outlets:
            extra = campaign_event_extra(
                result,
                campaign=self.campaign_name(context) or outlet.uri[len(prefix) :],
                source=run_ids(context),
                emitted_at=now,
                rows=[outcome.to_dict()] if outcome is not None else None,
            )
            events[outlet].extra.update(extra)
            self.log.info("Asset event %s: campaign %s, %s", outlet.uri, extra["campaign"], extra["counts"])
        return result

    def _run_reporting_ledger_errors(self, context: Context, deferred_since: str | None) -> Any:
        """Run; a database error of the ledger (down, unreachable, restarted) fails this try
        with a clear, retryable error: nothing is sent without a claim, so a retry carries on."""
        import sys

        try:
            return self._run(context, deferred_since)
        except Exception as exc:
            database = sys.modules.get("sqlalchemy.exc")  # loaded whenever a ledger was opened
            if database is None or not isinstance(exc, database.SQLAlchemyError):
                raise
            from airflow_provider_connectsafely.compat import AirflowException
            from airflow_provider_connectsafely.ledger.queries import first_line

            where = getattr(self, "_ledger_in_use", "the send ledger")
            raise AirflowException(
                f"The send ledger ({where}) failed: {first_line(exc)}. Nothing was sent without a "
                "claim and every send made is recorded, so a retry or a rerun of this task carries "
                "on without sending twice. Fix: check that the ledger's database is up and "
                "reachable from every worker"
            ) from exc

    def _run(self, context: Context, deferred_since: str | None) -> Any:
        raise NotImplementedError


def run_ids(context: Context) -> tuple[str, str, str, int] | None:
    """(dag_id, task_id, run_id, map_index) of the running task, or None outside a run."""
    ti = context.get("ti") if context else None
    if ti is None or not getattr(ti, "run_id", None):
        return None
    map_index = getattr(ti, "map_index", -1)
    return ti.dag_id, ti.task_id, ti.run_id, -1 if map_index is None else int(map_index)


def to_airflow_error(exc: ConnectSafelyError) -> Exception:
    """The Airflow exception for a provider error: retryable ones let Airflow retry the
    task; the rest (bad input, auth, unknown delivery...) fail it without retries."""
    from airflow_provider_connectsafely.compat import AirflowException, AirflowFailException

    kind = AirflowException if exc.retryable else AirflowFailException
    return kind(f"{type(exc).__name__}: {exc.message}")
