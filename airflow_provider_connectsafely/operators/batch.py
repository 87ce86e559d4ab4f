"""The batch operator: one message template, many recipients, at most once each.

Only Airflow's task SDK is imported at module level: DAG files import this on every parse.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely.operators.base import (
    ConnectSafelyBaseOperator,
    recipient_identity,
    run_ids,
)

if TYPE_CHECKING:
    from airflow.sdk import Context
    from jinja2 import Template

    from airflow_provider_connectsafely.delivery import GuardedSender
    from airflow_provider_connectsafely.ledger.records import LedgerEntry
    from airflow_provider_connectsafely.models import MessageRequest

TEMPLATE_FILES = (".txt", ".j2", ".md")
RECIPIENT_KEYS = ("recipient_profile_id", "recipient_profile_urn", "profile_url")
# Errors after which no other recipient can succeed: stop the batch at once.
_FATAL = ("AuthenticationError", "PermissionDeniedError", "ConnectSafelyConfigError")
NOT_ATTEMPTED = "not_attempted"
WOULD_SEND = "would_send"


class _Prepared:
    """One recipient, rendered and validated (or with the reason it is invalid)."""

    __slots__ = ("error", "index", "key", "recipient", "request")

    def __init__(self, index: int, recipient: str) -> None:
        self.index = index
        self.recipient = recipient
        self.request: MessageRequest | None = None
        self.key: str | None = None
        self.error: Exception | None = None


class SendLinkedInMessageBatchOperator(ConnectSafelyBaseOperator):
    """Send one templated message to many recipients, at most once each, within the daily cap.

    Built for "after a CRM load, message the new contacts": ``recipients`` comes from an
    upstream task's XCom, a literal list, or a SQL query. ``message`` and ``subject`` are Jinja
    templates rendered per recipient with Airflow's Jinja environment and the task context
    plus ``recipient`` (``{{ recipient.first_name }}``). Every outcome is recorded in the send
    ledger under ``campaign`` + recipient, so a rerun, a retry or a second worker sends nothing
    twice; the task returns a summary and per-recipient outcomes to XCom (for CRM write-back).

    :param message: the message template (or a template file ending ``.txt``, ``.j2``, ``.md``).
    :param recipients: list of dicts, each with ``recipient_profile_id`` (ID or profile URL),
        ``recipient_profile_urn`` or ``profile_url``, plus any personalisation fields. Plain
        strings are read as profile IDs/URLs.
    :param recipients_sql: a query whose rows (as dicts) are the recipients, instead of
        ``recipients``; needs ``recipients_conn_id`` (any ``common.sql`` connection).
    :param recipients_conn_id: the database connection for ``recipients_sql``.
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

    Also: ``message_type``, ``account_id``, ``connectsafely_conn_id``, ``ledger_conn_id``,
    ``use_ledger``, ``on_unknown``, ``daily_limit``, ``max_defer``, ``on_limit``,
    ``message_limits``, ``max_rate_limit_wait`` as on :class:`SendLinkedInMessageOperator`.
    """

    template_fields: Sequence[str] = (
        "recipients",
        "recipients_sql",
        "recipients_conn_id",
        "campaign",
        "message_type",
        "account_id",
        "connectsafely_conn_id",
        "ledger_conn_id",
    )
    template_fields_renderers = {"recipients": "json", "recipients_sql": "sql"}
    ui_color = "#d6e6f7"

    def __init__(
        self,
        *,
        message: str,
        recipients: Any = None,
        recipients_sql: str | None = None,
        recipients_conn_id: str | None = None,
        subject: str | None = None,
        campaign: str | None = None,
        min_interval: float = 0.0,
        jitter: float = 0.25,
        dry_run: bool = False,
        max_failures: int = 0,
        progress_every: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (recipients is None) == (recipients_sql is None):
            raise ValueError("give exactly one of recipients or recipients_sql")
        if recipients_sql is not None and not recipients_conn_id:
            raise ValueError("recipients_sql needs recipients_conn_id")
        self.message = message
        self.recipients = recipients
        self.recipients_sql = recipients_sql
        self.recipients_conn_id = recipients_conn_id
        self.subject = subject
        self.campaign = campaign
        self.min_interval = min_interval
        self.jitter = jitter
        # Not self.is_dry_run: that name is BaseOperator's method.
        self.is_dry_run = dry_run
        self.max_failures = max_failures
        self.progress_every = progress_every

    # -- the run -------------------------------------------------------------------------

    def _run(self, context: Context, deferred_since: str | None) -> dict[str, Any]:
        from airflow_provider_connectsafely.compat import AirflowFailException
        from airflow_provider_connectsafely.delivery import WaitRequired
        from airflow_provider_connectsafely.errors import ConnectSafelyError
        from airflow_provider_connectsafely.operators.base import to_airflow_error

        rows = self._load_recipients()
        try:
            prepared = self._prepare(rows, context)
            ledger = None if self.is_dry_run and not self.use_ledger else self._ledger()
            known = ledger.get_many(p.key for p in prepared if p.key) if ledger else {}
            if self.is_dry_run:
                outcomes = [self._dry_outcome(p, known) for p in prepared]
            else:
                sender = self._sender(ledger)
                try:
                    outcomes = self._send_all(prepared, known, sender, context)
                except WaitRequired as wait:
                    self._pause(wait, deferred_since)
                    raise AssertionError("not reached") from None
        except ConnectSafelyError as exc:
            raise to_airflow_error(exc) from exc
        result = self._summarise(outcomes)
        self.log.info(
            "Batch finished: %d recipient(s): %s",
            result["summary"]["total"],
            _counts_text(result["summary"]) or "nothing to do",
        )
        fatal = next((o for o in outcomes if o.get("error_type") in _FATAL), None)
        failures = sum(1 for o in outcomes if self._counts_as_failure(o))
        if fatal or failures > self.max_failures:
            ti = context.get("ti") if context else None
            if ti is not None:
                ti.xcom_push(key="outcomes", value=result)
            reason = (
                f"stopped at once: {fatal['reason']}"
                if fatal
                else f"{failures} recipient(s) failed or unknown, more than max_failures={self.max_failures}"
            )
            raise AirflowFailException(
                f"Batch {reason}. Every outcome is recorded (XCom key 'outcomes' and the send ledger)."
            )
        return result

    def _load_recipients(self) -> list[Any]:
        if self.recipients_sql is not None:
            return self._query_recipients()
        rows = self.recipients
        if isinstance(rows, (dict, str)) or not hasattr(rows, "__iter__"):
            from airflow_provider_connectsafely.compat import AirflowFailException

            raise AirflowFailException(
                f"Invalid `recipients`: expected a list of dicts, got {type(rows).__name__}. Fix: pass a "
                "list (or an upstream task's output) of dicts with recipient_profile_id or "
                "recipient_profile_urn"
            )
        return list(rows)

    def _query_recipients(self) -> list[dict[str, Any]]:
        from contextlib import closing

        from airflow.sdk import BaseHook

        assert self.recipients_conn_id and self.recipients_sql
        db_hook: Any = BaseHook.get_connection(self.recipients_conn_id).get_hook()
        with closing(db_hook.get_conn()) as conn:
            cursor = conn.cursor()
            cursor.execute(self.recipients_sql)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _templates(self) -> tuple[Template, Template | None]:
        # The DAG's environment: its macros, filters, template_searchpath and undefined rule.
        env = self.get_template_env(dag=self.dag if self.has_dag() else None)

        def load(source: str) -> Template:
            if source.endswith(TEMPLATE_FILES):
                return env.get_template(source)
            return env.from_string(source)

        return load(self.message), (load(self.subject) if self.subject else None)

    def _prepare(self, rows: list[Any], context: Context) -> list[_Prepared]:
        """Render and validate every recipient before sending to any."""
        from airflow_provider_connectsafely.errors import ConnectSafelyValidationError
        from airflow_provider_connectsafely.models import MessageRequest

        message_tpl, subject_tpl = self._templates()
        base = dict(context) if context else {}
        ids = run_ids(context)
        campaign = self.campaign or (f"{ids[0]}.{ids[1]}" if ids else f"{self.dag_id}.{self.task_id}")
        default_account = self.hook.settings.account_id
        prepared = []
        for index, row in enumerate(rows):
            data = {"recipient_profile_id": row} if isinstance(row, str) else row
            item = _Prepared(index, _describe(data))
            prepared.append(item)
            try:
                if not isinstance(data, dict):
                    raise ConnectSafelyValidationError(
                        "recipients", f"item {index} is {type(data).__name__}", "give a dict per recipient"
                    )
                profile = data.get("recipient_profile_id") or data.get("profile_url")
                variables = {**base, "recipient": data}
                request = MessageRequest.build(
                    message=message_tpl.render(variables),
                    recipient_profile_id=profile,
                    recipient_profile_urn=data.get("recipient_profile_urn"),
                    subject=subject_tpl.render(variables) if subject_tpl else None,
                    message_type=self.message_type,
                    account_id=self.account_id,
                    limits=self.message_limits,
                ).with_default_account(default_account)
            except ConnectSafelyValidationError as exc:
                item.error = exc
                continue
            except Exception as exc:  # a template error is this recipient's problem, not the batch's
                item.error = ConnectSafelyValidationError(
                    "message", f"rendering failed for item {index}: {exc}", "check the template's variables"
                )
                continue
            item.request = request
            item.recipient = request.recipient
            item.key = f"campaign:{campaign}:{recipient_identity(request)}"
        return prepared

    def _dry_outcome(self, item: _Prepared, known: dict[str, LedgerEntry]) -> dict[str, Any]:
        if item.error is not None:
            return _invalid(item)
        entry = known.get(item.key or "")
        if entry is not None and entry.state == "sent":
            return {"recipient": item.recipient, "status": "skipped", "reason": "already sent"}
        assert item.request is not None
        return {"recipient": item.recipient, "status": WOULD_SEND, "message": item.request.message}

    def _send_all(
        self,
        prepared: list[_Prepared],
        known: dict[str, LedgerEntry],
        sender: GuardedSender,
        context: Context,
    ) -> list[dict[str, Any]]:
        from airflow_provider_connectsafely.delivery import SENT_NOW, account_key
        from airflow_provider_connectsafely.ledger.records import NewSend

        ids = run_ids(context)
        dag_id, task_id, run_id, map_index = ids or (None, None, None, None)
        progress = _Progress(len(prepared), self.progress_every, self.log)
        outcomes: list[dict[str, Any]] = []
        last_attempt: float | None = None
        for position, item in enumerate(prepared):
            if item.error is not None:
                outcomes.append(_invalid(item))
                progress.step("failed")
                continue
            assert item.request is not None and item.key is not None
            entry = known.get(item.key)
            if (
                self.use_ledger
                and entry is not None
                and entry.state == "sent"
                and ids is not None
                and (entry.dag_id, entry.task_id, entry.run_id, entry.map_index)
                == (dag_id, task_id, run_id, map_index)
            ):
                # Sent by this same task and run before a deferral, retry or crash.
                outcomes.append(_with(entry.response, item, SENT_NOW, "sent by an earlier try"))
                progress.step(SENT_NOW)
                continue
            may_send = (
                entry is None
                or entry.may_send_again
                or (self.on_unknown == "resend" and entry.state != "sent")
            )
            if may_send and last_attempt is not None and self.min_interval > 0:
                # Pacing is between requests to the API; skipped recipients cost no wait.
                wait = _paced(self.min_interval, self.jitter) - (time.monotonic() - last_attempt)
                if wait > 0:
                    time.sleep(wait)
            spec = NewSend(
                dedupe_key=item.key,
                account=account_key(item.request),
                recipient=item.request.recipient,
                dag_id=dag_id,
                task_id=task_id,
                run_id=run_id,
                map_index=map_index,
            )
            outcome = sender.send(item.request, spec if self.use_ledger else None, entry)
            outcomes.append(outcome.to_dict())
            progress.step(outcome.status)
            if outcome.status == SENT_NOW or outcome.error is not None:
                last_attempt = time.monotonic()
            if outcome.error is not None and type(outcome.error).__name__ in _FATAL:
                for rest in prepared[position + 1 :]:
                    outcomes.append(
                        {"recipient": rest.recipient, "status": NOT_ATTEMPTED, "reason": "batch stopped"}
                    )
                break
        return outcomes

    def _counts_as_failure(self, outcome: dict[str, Any]) -> bool:
        """Failed or unknown; an earlier attempt's unknown outcome is not this run's failure
        when the user chose ``on_unknown='skip'``."""
        if outcome["status"] == "failed":
            return True
        if outcome["status"] != "unknown":
            return False
        return self.on_unknown != "skip" or "error_type" in outcome

    def _summarise(self, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
        summary = {"total": len(outcomes), "dry_run": self.is_dry_run}
        for status in ("sent", "skipped", "in_flight", "failed", "unknown", NOT_ATTEMPTED, WOULD_SEND):
            summary[status] = sum(1 for o in outcomes if o["status"] == status)
        return {"summary": summary, "outcomes": outcomes}


class _Progress:
    """Logs count, percent, per-status totals and time left, at most every ``every`` seconds."""

    def __init__(self, total: int, every: float, log: Any) -> None:
        self.total = total
        self.every = every
        self.log = log
        self.done = 0
        self.counts: dict[str, int] = {}
        self.started = self.last = time.monotonic()

    def step(self, status: str) -> None:
        self.done += 1
        self.counts[status] = self.counts.get(status, 0) + 1
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
            _counts_text(self.counts),
            _duration(left),
        )


def _paced(interval: float, jitter: float) -> float:
    return max(0.0, interval * (1 + random.uniform(-jitter, jitter)))


def _describe(data: Any) -> str:
    if isinstance(data, dict):
        for key in RECIPIENT_KEYS:
            if data.get(key):
                return str(data[key])
    return repr(data)[:80]


def _invalid(item: _Prepared) -> dict[str, Any]:
    return {
        "recipient": item.recipient,
        "status": "failed",
        "reason": str(item.error),
        "error_type": type(item.error).__name__,
    }


def _with(response: dict[str, Any] | None, item: _Prepared, status: str, reason: str) -> dict[str, Any]:
    data: dict[str, Any] = {"recipient": item.recipient, "status": status, "dedupe_key": item.key}
    if response and response.get("recipientProfileUrn"):
        data["recipientProfileUrn"] = response["recipientProfileUrn"]
    data["reason"] = reason
    return data


def _counts_text(counts: dict[str, Any]) -> str:
    order = ("sent", "skipped", "in_flight", "failed", "unknown", NOT_ATTEMPTED, WOULD_SEND)
    return ", ".join(f"{name} {counts[name]}" for name in order if counts.get(name))


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
