"""The batch operator: one message template, many recipients, at most once each.

Only Airflow's task SDK is imported at module level: DAG files import this on every parse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely.operators.base import (
    ConnectSafelyBaseOperator,
    check_account_args,
    check_recipient_source,
    check_window_args,
    load_recipients,
    run_ids,
    template_loader,
)

if TYPE_CHECKING:
    from airflow.sdk import Context
    from jinja2 import Template

    from airflow_provider_connectsafely.outreach.batch import BatchItem, BatchRun


class SendLinkedInMessageBatchOperator(ConnectSafelyBaseOperator):
    """Send one templated message to many recipients, at most once each, within the daily cap.

    Built for "after a CRM load, message the new contacts": ``recipients`` comes from an
    upstream task's XCom, a literal list, or a SQL query. ``message`` and ``subject`` are Jinja
    templates rendered per recipient with Airflow's Jinja environment and the task context
    plus ``recipient`` (``{{ recipient.first_name }}``). Every outcome is recorded in the send
    ledger under ``campaign`` + recipient, so a rerun, a retry or a second worker sends nothing
    twice; the task returns a summary and per-recipient outcomes to XCom (for CRM write-back).

    :param message: the message template (or a template file ending ``.txt``, ``.j2``, ``.md``).
    :param message_variants: instead of ``message``: ``{name: template}``, e.g. ``{"a": "...",
        "b": "..."}``. Each recipient gets one, chosen from the campaign and the person (the same
        on every run, retry and worker) and recorded with the send; every variant is rendered
        and validated for every recipient before anything is sent. The summary then holds
        ``variant_results``: messages sent per variant over the whole campaign.
    :param variant_weights: how often each variant goes out, e.g. ``{"a": 3, "b": 1}``; equal
        when None.
    :param recipients: list of dicts, each with ``recipient_profile_id`` (ID or profile URL),
        ``recipient_profile_urn`` or ``profile_url``, plus any personalisation fields. Plain
        strings are read as profile IDs/URLs.
    :param recipients_sql: a query whose rows (as dicts) are the recipients, instead of
        ``recipients``; needs ``recipients_conn_id`` (any ``common.sql`` connection).
    :param recipients_conn_id: the database connection for ``recipients_sql``.
    :param recipients_parameters: the values bound to the placeholders of ``recipients_sql``
        by the database's driver, never formatted into the SQL (templated): a dict for named
        placeholders (``:since`` in SQLite, ``%(since)s`` in PostgreSQL) or a list for
        positional ones (``?``, ``%s``), e.g. ``{"since": "{{ ds }}"}``.
    :param subject: the InMail subject template.
    :param campaign: the dedupe scope: one message per campaign and recipient, across runs.
        Default: ``<dag_id>.<task_id>``.
    :param min_interval: seconds between two sends (outreach tools use 10 to 20), randomised by
        ``jitter``.
    :param jitter: fraction of ``min_interval`` added or removed at random (0.25 = ±25%).
    :param dry_run: render and validate every message, send nothing, record nothing.
    :param max_failures: the task fails at the end when more recipients failed (or ended
        unknown) than this, after recording everything.
    :param progress_every: log progress at least every this many seconds.
    :param endpoint: ``messaging`` (default: ``POST /linkedin/messaging/send``) or
        ``conversations`` (``POST /linkedin/conversations/send``; outcomes then carry each
        recipient's ``conversationUrn`` and ``threadId``).
    :param send_window: when messages may go out, on each recipient's clock, e.g.
        ``"Mon-Fri 09:00-17:30"`` (templated). The batch sends to those whose window is open,
        then waits for the rest as ``on_limit`` says (defers until the earliest opens, by
        default); after the wait it goes on, and the ledger skips those already sent.
    :param timezone: the IANA time zone of recipients without their own (templated; UTC).
    :param timezone_field: the key of a recipient's row holding their IANA time zone, e.g.
        ``"timezone"``; rows without it (or blank) use ``timezone``, and a name that is no
        time zone fails that recipient.
    :param account_ids: several LinkedIn accounts to send from, instead of ``account_id``
        (templated): a recipient stays with the account that first contacted them, a new one
        goes to the account with the most room left today, each account keeps its own daily
        cap, and an account that answers 401/403 or is reported unavailable leaves the
        rotation for the run while the others go on.
    :param warmup: ramp the daily cap of new accounts, e.g. ``{"start": 10, "days": 14}``:
        10 on an account's first day of sending, the full cap after 14 days.

    Also: ``message_type``, ``account_id``, ``connectsafely_conn_id``, ``ledger_conn_id``,
    ``use_ledger``, ``on_unknown``, ``daily_limit``, ``max_defer``, ``on_limit``,
    ``message_limits``, ``max_rate_limit_wait`` as on :class:`SendLinkedInMessageOperator`.
    """

    template_fields: Sequence[str] = (
        "recipients",
        "recipients_sql",
        "recipients_conn_id",
        "recipients_parameters",
        "campaign",
        "message_type",
        "account_id",
        "account_ids",
        "connectsafely_conn_id",
        "ledger_conn_id",
        "send_window",
        "timezone",
    )
    template_fields_renderers = {
        "recipients": "json",
        "recipients_sql": "sql",
        "recipients_parameters": "json",
    }
    ui_color = "#d6e6f7"

    def __init__(
        self,
        *,
        message: str | None = None,
        message_variants: Mapping[str, str] | None = None,
        variant_weights: Mapping[str, int] | None = None,
        recipients: Any = None,
        recipients_sql: str | None = None,
        recipients_conn_id: str | None = None,
        recipients_parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        subject: str | None = None,
        campaign: str | None = None,
        min_interval: float = 0.0,
        jitter: float = 0.25,
        dry_run: bool = False,
        max_failures: int = 0,
        progress_every: float = 30.0,
        endpoint: str = "messaging",
        timezone_field: str | None = None,
        account_ids: Sequence[str] | str | None = None,
        warmup: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_account_args(self.account_id, account_ids, warmup)
        self.account_ids = account_ids
        self.warmup = warmup
        from airflow_provider_connectsafely.api.conversation_send import check_endpoint

        check_window_args(self.send_window, self.timezone, timezone_field)
        if self.send_window is not None and not self.use_ledger and not dry_run:
            raise ValueError(
                "send_window needs the send ledger (after waiting for a window the batch resumes "
                "and the ledger skips those already sent): drop use_ledger=False"
            )
        self.timezone_field = timezone_field

        self.endpoint = check_endpoint(endpoint, self.message_type)
        check_recipient_source(recipients, recipients_sql, recipients_conn_id, recipients_parameters)
        if (message is None) == (message_variants is None):
            raise ValueError(
                "give message= (one text) or message_variants= ({'a': ..., 'b': ...}), exactly one of them"
            )
        if variant_weights is not None and message_variants is None:
            raise ValueError("variant_weights weighs message_variants=: give message_variants too")
        if message_variants is not None:
            from airflow_provider_connectsafely.outreach.variants import Variants

            Variants.of(message_variants, variant_weights, field="message_variants")
        self.message = message
        self.message_variants = dict(message_variants) if message_variants is not None else None
        self.variant_weights = dict(variant_weights) if variant_weights is not None else None
        self.recipients = recipients
        self.recipients_sql = recipients_sql
        self.recipients_conn_id = recipients_conn_id
        self.recipients_parameters = recipients_parameters
        self.subject = subject
        self.campaign = campaign
        self.min_interval = min_interval
        self.jitter = jitter
        # Not self.is_dry_run: that name is BaseOperator's method.
        self.is_dry_run = dry_run
        self.max_failures = max_failures
        self.progress_every = progress_every

    def ledger_campaign(self, ti_key: Any) -> str:
        """This batch's campaign label in the ledger (for the "ConnectSafely ledger" link)."""
        return f"batch:{self.campaign or f'{ti_key.dag_id}.{ti_key.task_id}'}"

    def _run(self, context: Context, deferred_since: str | None) -> dict[str, Any]:
        from airflow_provider_connectsafely.compat import AirflowFailException
        from airflow_provider_connectsafely.errors import ConnectSafelyError
        from airflow_provider_connectsafely.operators.base import to_airflow_error
        from airflow_provider_connectsafely.outreach.delivery import WaitRequired

        rows = load_recipients(
            self.recipients, self.recipients_sql, self.recipients_conn_id, self.recipients_parameters
        )
        try:
            items = self._prepare(rows, context)
            ledger = None if self.is_dry_run and not self.use_ledger else self._ledger()
            known = ledger.get_many(i.key for i in items if i.key) if ledger else {}
            batch = self._batch_run(context, ledger)
            if self.is_dry_run:
                done = batch.dry_run(items, known)
            else:
                try:
                    done = batch.send_all(items, known)
                except WaitRequired as wait:
                    self._pause(wait, deferred_since)
        except ConnectSafelyError as exc:
            raise to_airflow_error(exc) from exc
        result = batch.report(done, dry_run=self.is_dry_run)
        if self.message_variants is not None and ledger is not None and self.use_ledger:
            result["summary"]["variant_results"] = self._variant_results(ledger, self.campaign_name(context))
        stopped = batch.stop_reason(done)
        failures = sum(1 for o in done if batch.counts_as_failure(o))
        if stopped or failures > self.max_failures:
            ti = context.get("ti") if context else None
            if ti is not None:
                ti.xcom_push(key="outcomes", value=result)
            reason = (
                f"stopped at once: {stopped}"
                if stopped
                else f"{failures} recipient(s) failed or unknown, more than max_failures={self.max_failures}"
            )
            raise AirflowFailException(
                f"Batch {reason}. Every outcome is recorded (XCom key 'outcomes' and the send ledger)."
            )
        return result

    def _batch_run(self, context: Context, ledger: Any) -> BatchRun:
        from airflow_provider_connectsafely.outreach.batch import BatchRun

        accounts = self._account_pool(ledger, self.account_ids, self.warmup)
        return BatchRun(
            sender=None if self.is_dry_run else self._sender(ledger, accounts=accounts),
            use_ledger=self.use_ledger,
            on_unknown=self.on_unknown,
            run=run_ids(context),
            min_interval=self.min_interval,
            jitter=self.jitter,
            progress_every=self.progress_every,
            log=self.log,
            windows=self._windows(ledger, self.timezone_field),
            accounts=accounts,
            ledger=ledger if self.use_ledger else None,
        )

    @staticmethod
    def _variant_results(ledger: Any, campaign: str) -> list[dict[str, Any]]:
        """Sent per variant over the whole campaign (a batch records no replies)."""
        from airflow_provider_connectsafely.ledger.queries import BATCH, variant_counts
        from airflow_provider_connectsafely.outreach.variants import result_row

        rows = variant_counts(ledger, BATCH, campaign)
        return [result_row(None, variant, sent, None) for _step, variant, sent, _replied in rows]

    def campaign_name(self, context: Context) -> str:
        """``campaign``, else ``<dag_id>.<task_id>``."""
        ids = run_ids(context)
        return self.campaign or (f"{ids[0]}.{ids[1]}" if ids else f"{self.dag_id}.{self.task_id}")

    def _prepare(self, rows: list[Any], context: Context) -> list[BatchItem]:
        """Render and validate every recipient (every variant) before sending to any."""
        from airflow_provider_connectsafely.outreach.batch import prepare_items
        from airflow_provider_connectsafely.outreach.variants import Variants

        load = template_loader(self)
        subject_tpl = load(self.subject) if self.subject else None
        base = dict(context) if context else {}
        texts: dict[str | None, Template]
        if self.message_variants is None:
            texts = {None: load(str(self.message))}
            variants = None
        else:
            variants = Variants.of(self.message_variants, self.variant_weights, field="message_variants")
            texts = {name: load(text) for name, text in self.message_variants.items()}

        def render(recipient: dict[str, Any], variant: str | None = None) -> tuple[str, str | None]:
            variables = {**base, "recipient": recipient, "variant": variant}
            subject = subject_tpl.render(variables) if subject_tpl else None
            return texts[variant].render(variables), subject

        return prepare_items(
            rows,
            render,
            campaign=self.campaign_name(context),
            message_type=self.message_type,
            account_id=self.account_id or self.hook.settings.account_id,
            limits=self.message_limits,
            endpoint=self.endpoint,
            variants=variants,
        )
