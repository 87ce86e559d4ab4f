"""The sequence operator: steps sent days apart, stopped for whoever replies.

Only Airflow's task SDK is imported at module level: DAG files import this on every parse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.operators.base import (
    ConnectSafelyBaseOperator,
    check_account_args,
    check_recipient_source,
    check_window_args,
    load_recipients,
    run_ids,
    template_loader,
)
from airflow_provider_connectsafely.outreach.steps import SequenceStep

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_connectsafely.api.connect import ConnectRequest
    from airflow_provider_connectsafely.api.models import MessageRequest
    from airflow_provider_connectsafely.ledger.sequences import Enrollment
    from airflow_provider_connectsafely.ledger.store import SendLedger
    from airflow_provider_connectsafely.outreach.invitations import Invitations

__all__ = ["LinkedInSequenceOperator", "SequenceStep"]


class LinkedInSequenceOperator(ConnectSafelyBaseOperator):
    """Run an outreach sequence: a first message, follow-ups after waits, no more messages
    to a person once they reply. Meant to run on a schedule (hourly or daily).

    Each run enrols the recipients not seen before, reads replies (one account-wide listing
    per account when ``stop_on_reply``), and sends every step that is due, at most once per
    campaign, step and recipient. Follow-ups go into the conversation the first step opened
    (``POST /linkedin/conversations/send``). A person enrolled once stays in the sequence
    until they reply, finish, or fail, even when a later run's ``recipients`` no longer list
    them, unless ``on_removed="stop"``.

    Returns to XCom ``{"summary": {...}, "outcomes": [...]}``: the summary counts the whole
    campaign (enrolled this run, total, sent per step, replied, finished, waiting, failed,
    unknown); the outcomes hold only the people this run acted on or has something to say
    about (a due step sent, skipped, failed, unknown or held with a ``reason``; a reply found
    now; removed now) and the invalid rows, each with the state (active, replied, finished,
    failed, unknown, removed), the step reached, the conversation, the reply, and what this
    run did (``status``). People whose next step is not due yet get no entry. Only the rows
    of people not enrolled yet are rendered and validated.

    :param campaign: the sequence's identity in the ledger (templated).
    :param steps: the :class:`SequenceStep` list, in order.
    :param recipients: list of dicts (as for the batch operator), or an upstream task's output.
    :param recipients_sql: a query whose rows are the recipients, instead of ``recipients``.
    :param recipients_conn_id: the database connection for ``recipients_sql``.
    :param recipients_parameters: the values bound to the placeholders of ``recipients_sql``
        (templated): a dict for named placeholders, a list for positional ones, as for the
        batch operator.
    :param stop_on_reply: read replies before sending follow-ups and stop for those who replied.
    :param opt_out: whether a reply that asks to stop (see
        :mod:`~airflow_provider_connectsafely.outreach.opt_out`) puts the person on the
        do-not-contact list everywhere: True (the default phrases, English, German, French,
        Spanish), False, a list of phrases (instead of them), an ``OptOutDetector`` (e.g. to
        extend them) or a callable taking the reply's text.
    :param reply_window: keep reading replies this long after a person's last step (a
        ``timedelta``), so that replies to the last step count in the reply rates (the
        enrolment moves from ``finished`` to ``replied``); None (default): replies are read
        while a step is left. Needs ``stop_on_reply``.
    :param on_removed: ``continue`` (default) or ``stop`` for enrolled people missing from
        this run's recipients.
    :param messaging_channel: ``auto``, ``sales_navigator`` or ``linkedin_inbox``.
    :param min_interval: seconds between two sends.
    :param dry_run: show, per recipient, which step would go out now and its text; send,
        enrol and read nothing.
    :param send_window: when steps may go out, on each recipient's clock, e.g.
        ``"Mon-Fri 09:00-17:30"`` (templated). A due step outside it waits: once the others
        are sent, the task defers until the earliest window opens (or skips or fails, as
        ``on_limit`` says).
    :param timezone: the IANA time zone of recipients without their own (templated; UTC).
    :param timezone_field: the key of a recipient's row holding their IANA time zone, read
        from the row as it was at enrolment; rows without it use ``timezone``.
    :param account_ids: several LinkedIn accounts, instead of ``account_id`` (templated): each
        new recipient is enrolled with the account that contacted them before, else the one
        with the most room today, and every step to them comes from that account; each account
        keeps its own daily (and weekly connect) cap; an account that answers 401/403 or is
        reported unavailable is out of rotation for the run, its people wait.
    :param warmup: ramp the daily cap of new accounts, e.g. ``{"start": 10, "days": 14}``.
    :param weekly_limit: connection requests per account per week (Monday 00:00 UTC), for
        connect steps (``SequenceStep(action="connect")``); 0 for no cap.

    Also ``account_id``, ``daily_limit``, ``on_unknown``, ``on_limit``, ``max_defer``,
    ``connectsafely_conn_id``, ``ledger_conn_id``, ``message_limits`` as on the batch operator.
    """

    template_fields: Sequence[str] = (
        "campaign",
        "recipients",
        "recipients_sql",
        "recipients_conn_id",
        "recipients_parameters",
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
    ui_color = "#cfe3d4"

    def __init__(
        self,
        *,
        campaign: str,
        steps: Sequence[SequenceStep],
        recipients: Any = None,
        recipients_sql: str | None = None,
        recipients_conn_id: str | None = None,
        recipients_parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        stop_on_reply: bool = True,
        opt_out: Any = True,
        on_removed: str = "continue",
        messaging_channel: str | None = None,
        min_interval: float = 0.0,
        dry_run: bool = False,
        timezone_field: str | None = None,
        account_ids: Sequence[str] | str | None = None,
        warmup: dict[str, int] | None = None,
        weekly_limit: int = defaults.WEEKLY_CONNECT_LIMIT,
        reply_window: timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if reply_window is not None:
            if not isinstance(reply_window, timedelta) or reply_window <= timedelta(0):
                raise ValueError(
                    f"reply_window must be a timedelta > 0, e.g. timedelta(days=14), got {reply_window!r}"
                )
            if not stop_on_reply:
                raise ValueError(
                    "reply_window reads replies after the last step: it needs stop_on_reply=True"
                )
        self.reply_window = reply_window
        check_account_args(self.account_id, account_ids, warmup)
        if not isinstance(weekly_limit, int) or weekly_limit < 0:
            raise ValueError(f"weekly_limit must be a whole number >= 0 (0: no cap), got {weekly_limit!r}")
        self.account_ids = account_ids
        self.warmup = warmup
        self.weekly_limit = weekly_limit
        check_recipient_source(recipients, recipients_sql, recipients_conn_id, recipients_parameters)
        check_window_args(self.send_window, self.timezone, timezone_field)
        self.timezone_field = timezone_field
        if not steps or not all(isinstance(step, SequenceStep) for step in steps):
            raise ValueError("steps must be a non-empty list of SequenceStep")
        if not self.use_ledger:
            raise ValueError("a sequence needs the send ledger: drop use_ledger=False")
        if on_removed not in ("continue", "stop"):
            raise ValueError(f"on_removed must be 'continue' or 'stop', got {on_removed!r}")
        self.campaign = campaign
        self.steps = list(steps)
        self.recipients = recipients
        self.recipients_sql = recipients_sql
        self.recipients_conn_id = recipients_conn_id
        self.recipients_parameters = recipients_parameters
        self.stop_on_reply = stop_on_reply
        from airflow_provider_connectsafely.outreach.opt_out import detector

        self.opt_out = opt_out
        self._opt_out = detector(opt_out)  # a bad setting fails here, before any request
        self.on_removed = on_removed
        self.messaging_channel = messaging_channel
        self.min_interval = min_interval
        self.is_dry_run = dry_run

    def ledger_campaign(self, ti_key: Any) -> str:
        """This sequence's campaign label in the ledger (for the "ConnectSafely ledger" link)."""
        return f"sequence:{self.campaign}"

    def _run(self, context: Context, deferred_since: str | None) -> dict[str, Any]:
        from airflow_provider_connectsafely.compat import AirflowFailException
        from airflow_provider_connectsafely.errors import ConnectSafelyError
        from airflow_provider_connectsafely.ledger.sequences import SequenceStore
        from airflow_provider_connectsafely.operators.base import to_airflow_error
        from airflow_provider_connectsafely.outreach.batch import prepare_items, row_identity
        from airflow_provider_connectsafely.outreach.delivery import WaitRequired
        from airflow_provider_connectsafely.outreach.sequence import SequenceRun

        rows = load_recipients(
            self.recipients, self.recipients_sql, self.recipients_conn_id, self.recipients_parameters
        )
        render = self._renderer(context)
        try:
            ledger = self._ledger()
            assert ledger is not None
            store = SequenceStore(ledger)
            first = next((i for i, step in enumerate(self.steps) if not step.connects), None)
            # Only the rows of people not enrolled yet are rendered and validated (a dry run
            # shows everyone): the others' identity is read from their row, not rendered.
            known = present = None
            only = None
            if not self.is_dry_run:
                known = store.recipients(self.campaign)
                identities = [row_identity(row) for row in rows]
                only = [n for n, who in enumerate(identities) if who is None or who not in known]
                present = {who for who in identities if who is not None and who in known}
            variants = self.steps[first].variant_set() if first is not None else None
            items = prepare_items(
                rows,
                # A sequence of connect steps only still validates each recipient.
                lambda data, variant=None: (
                    render(self.steps[first], data, first + 1, variant) if first is not None else ("-", None)
                ),
                campaign=self.campaign,
                account_id=self.account_id or self.hook.settings.account_id,
                limits=self.message_limits,
                only=only,
                variants=variants,
                step=(first or 0) + 1,
                variants_field=f"steps[{first}].variants",
            )
            accounts = self._account_pool(ledger, self.account_ids, self.warmup)
            sequence = SequenceRun(
                campaign=self.campaign,
                steps=self.steps,
                store=store,
                sender=None if self.is_dry_run else self._sender(ledger, accounts=accounts),
                build=self._build,
                render=render,
                replies=_HookReplies(self.hook) if self.stop_on_reply else None,
                run=run_ids(context),
                on_removed=self.on_removed,
                min_interval=self.min_interval,
                log=self.log,
                windows=self._windows(ledger, self.timezone_field),
                accounts=accounts,
                invitations=self._invitations(ledger),
                render_note=self._note_renderer(context),
                opt_out=self._opt_out,
                reply_window=self.reply_window,
            )
            try:
                result = sequence.execute(items, dry_run=self.is_dry_run, present=present, known=known)
            except WaitRequired as wait:
                self._pause(wait, deferred_since)
        except ConnectSafelyError as exc:
            raise to_airflow_error(exc) from exc
        if sequence.stopped is not None:
            ti = context.get("ti") if context else None
            if ti is not None:
                ti.xcom_push(key="outcomes", value=result)
            raise AirflowFailException(
                f"Sequence stopped at once: {sequence.stopped}. Every outcome is recorded (XCom key "
                "'outcomes' and the send ledger); the enrolments are kept for the next run."
            )
        return result

    def campaign_name(self, context: Context) -> str:
        return self.campaign

    def _invitations(self, ledger: SendLedger) -> Invitations | None:
        if self.is_dry_run or not any(step.connects for step in self.steps):
            return None
        from airflow_provider_connectsafely.ledger.sequences import SequenceStore
        from airflow_provider_connectsafely.outreach.connections import ConnectSender
        from airflow_provider_connectsafely.outreach.invitations import Invitations

        sender = ConnectSender(
            self.hook.send_connect_request,
            ledger,
            weekly_limit=self.weekly_limit,
            relationship=self.hook.get_relationship,  # connected or invited people skip the step
            on_unknown=self.on_unknown,
        )
        store = SequenceStore(ledger)
        return Invitations(sender, self._build_connect, self.hook.get_relationship, store.mark_checked)

    def _build_connect(self, enrollment: Enrollment, note: str | None) -> ConnectRequest:
        from airflow_provider_connectsafely.ledger.records import DEFAULT_ACCOUNT

        who = enrollment.recipient
        return self.hook.build_connect_request(
            recipient_profile_urn=who if who.startswith("urn:") else None,
            recipient_profile_id=None if who.startswith("urn:") else who,
            note=note,
            account_id=None if enrollment.account == DEFAULT_ACCOUNT else enrollment.account,
        )

    def _note_renderer(self, context: Context) -> Any:
        load = template_loader(self)
        notes = {
            index: load(step.note) for index, step in enumerate(self.steps) if step.connects and step.note
        }
        base = dict(context) if context else {}

        def render(step: SequenceStep, data: dict[str, Any], number: int) -> str | None:
            template = notes.get(number - 1)
            return template.render({**base, "recipient": data, "step": number}) if template else None

        return render

    def _renderer(self, context: Context) -> Any:
        load = template_loader(self)
        compiled = []
        for step in self.steps:
            names = list(step.variants) if step.variants is not None else [None]
            texts = {name: load(step.template(name)) for name in names} if not step.connects else {}
            compiled.append((texts, load(step.subject) if step.subject else None))
        base = dict(context) if context else {}

        def render(
            step: SequenceStep, data: dict[str, Any], number: int, variant: str | None = None
        ) -> tuple[str, str | None]:
            texts, subject = compiled[number - 1]
            variables = {**base, "recipient": data, "step": number, "variant": variant}
            return texts[variant].render(variables), subject.render(variables) if subject else None

        return render

    def _build(self, enrollment: Enrollment, message: str, subject: str | None) -> MessageRequest:
        """The first step opens the conversation; later ones write in it once it is known."""
        from airflow_provider_connectsafely.ledger.records import DEFAULT_ACCOUNT

        conversation = enrollment.conversation_urn if enrollment.step else None
        who = enrollment.recipient
        return self.hook.build_request(
            endpoint="conversations",
            message=message,
            subject=subject,
            conversation_urn=conversation,
            recipient_profile_urn=who if not conversation and who.startswith("urn:") else None,
            recipient_profile_id=who if not conversation and not who.startswith("urn:") else None,
            account_id=None if enrollment.account == DEFAULT_ACCOUNT else enrollment.account,
            messaging_channel=self.messaging_channel,
        )


class _HookReplies:
    """Replies read through the hook: the account-wide listing, or one conversation."""

    def __init__(self, hook: Any) -> None:
        self.hook = hook

    def recent(self, since: Any, account_id: str | None) -> list[dict[str, Any]]:
        grouped = self.hook.recent_replies(since=since, account_id=account_id)
        return [reply for replies in grouped.values() for reply in replies]

    def in_conversation(self, conversation_urn: str, since: Any, account_id: str | None) -> list[dict]:
        return self.hook.find_replies(conversation_urn, since=since, account_id=account_id)
