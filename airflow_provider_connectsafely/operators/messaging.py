"""Operators that send LinkedIn messages through ConnectSafely.

Only Airflow's task SDK is imported at module level: DAG files import this on every parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely.operators.base import (
    TEMPLATE_FILES,
    ConnectSafelyBaseOperator,
    run_ids,
    to_airflow_error,
)
from airflow_provider_connectsafely.operators.batch import SendLinkedInMessageBatchOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_connectsafely.api.models import MessageRequest
    from airflow_provider_connectsafely.ledger.records import NewSend
    from airflow_provider_connectsafely.outreach.delivery import Outcome

__all__ = ["SendLinkedInMessageBatchOperator", "SendLinkedInMessageOperator", "to_airflow_error"]


class SendLinkedInMessageOperator(ConnectSafelyBaseOperator):
    """Send one LinkedIn direct message and push the API's JSON answer to XCom.

    Every text parameter is templated; ``message`` may also name a template file
    (``.txt``, ``.j2``, ``.md``). Arguments are validated after rendering and before any
    request; bad input fails the task at once, without Airflow retries.

    Each send is recorded in the send ledger under a dedupe key, so Airflow retries, cleared
    runs and parallel workers never send the same key twice.

    :param message: the message text.
    :param recipient_profile_id: the recipient's profile ID, or profile URL
        (``https://www.linkedin.com/in/john-doe-123/`` is sent as ``john-doe-123``).
    :param recipient_profile_urn: the recipient's URN (``urn:li:fsd_profile:...``); give
        exactly one of the two recipient parameters.
    :param subject: InMail subject (only with ``message_type="inmail"``; at most 200 characters).
    :param message_type: ``normal`` (to a connection) or ``inmail``.
    :param account_id: the LinkedIn account to send from; the connection's ``account_id``
        extra, else the API's default account, when None.
    :param typing_indicator: show a typing indicator first (``send-with-typing`` endpoint).
    :param conversation_urn: existing conversation for the typing indicator; with
        ``endpoint="conversations"``, the conversation to write in, instead of a recipient.
    :param endpoint: ``messaging`` (default: ``POST /linkedin/messaging/send``) or
        ``conversations`` (``POST /linkedin/conversations/send``: the XCom result then carries
        ``threadId``, ``conversationUrn`` and ``sentMessage`` with ``messageUrn`` and ``sentAt``).
    :param attachments: ``conversations`` only: a list of attachments.
    :param messaging_channel: ``conversations`` only: ``auto``, ``sales_navigator`` or
        ``linkedin_inbox``.
    :param connectsafely_conn_id: the ConnectSafely connection.
    :param dedupe_key: the send's identity in the ledger (templated). Default: dag id, task
        id, run id and recipient, so each run sends once to each recipient (mapped instances
        included, whatever their order); a key such as
        ``welcome-{{ params.contact_id }}`` sends once across all runs.
    :param ledger_conn_id: database connection of the send ledger; else the ConnectSafely
        connection's ``ledger_conn_id`` extra; else a SQLite file under ``$AIRFLOW_HOME``.
    :param use_ledger: False sends with no ledger: no dedupe and no daily cap.
    :param on_unknown: when an earlier attempt with this key may or may not have been
        delivered: ``fail`` (default), ``skip`` or ``resend`` (may message twice).
    :param daily_limit: messages per LinkedIn account per UTC day (default: the connection's
        ``daily_limit`` extra, else 150; 0 for no cap).
    :param max_defer: longest wait for a cap to reset, and longest total of waits for the
        API's holds (429); each cap wait starts the budget again.
    :param on_limit: when the cap is reached or the API rate-limits past
        ``max_rate_limit_wait``: ``defer`` (default), ``skip`` or ``fail``.
    :param message_limits: length limits, e.g. ``{"normal": 8000, "inmail": 1900, "subject": 200}``.
    :param max_rate_limit_wait: longest 429 wait (seconds) to sit out inside the task.
    :param send_window: when the message may go out, on the recipient's clock, e.g.
        ``"Mon-Fri 09:00-17:30"`` (templated). Outside it the task waits as ``on_limit``
        says: defers until it opens (default), skips or fails. None: any time.
    :param timezone: the IANA time zone the window is read in (templated; default UTC).
    """

    template_fields: Sequence[str] = (
        "message",
        "recipient_profile_id",
        "recipient_profile_urn",
        "subject",
        "message_type",
        "account_id",
        "conversation_urn",
        "messaging_channel",
        "connectsafely_conn_id",
        "dedupe_key",
        "ledger_conn_id",
        "send_window",
        "timezone",
    )
    template_ext: Sequence[str] = TEMPLATE_FILES
    template_fields_renderers = {"message": "md"}
    ui_color = "#e7f0fa"

    def __init__(
        self,
        *,
        message: str,
        recipient_profile_id: str | None = None,
        recipient_profile_urn: str | None = None,
        subject: str | None = None,
        typing_indicator: bool = False,
        conversation_urn: str | None = None,
        dedupe_key: str | None = None,
        endpoint: str = "messaging",
        attachments: list[Any] | None = None,
        messaging_channel: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from airflow_provider_connectsafely.api.conversation_send import check_endpoint

        self.endpoint = check_endpoint(endpoint, self.message_type)
        self.attachments = attachments
        self.messaging_channel = messaging_channel
        self.message = message
        self.recipient_profile_id = recipient_profile_id
        self.recipient_profile_urn = recipient_profile_urn
        self.subject = subject
        self.typing_indicator = typing_indicator
        self.conversation_urn = conversation_urn
        self.dedupe_key = dedupe_key

    def _run(self, context: Context, deferred_since: str | None) -> dict[str, Any] | None:
        from airflow_provider_connectsafely.api.models import MESSAGE_ARGS
        from airflow_provider_connectsafely.errors import ConnectSafelyError

        try:
            request = self.hook.build_request(**{name: getattr(self, name) for name in MESSAGE_ARGS})
            request = request.with_default_account(self.hook.settings.account_id)
            ledger = self._ledger()
            windows = self._windows(ledger)
            spec = self._spec(context, request) if ledger is not None else None
            gate = None if windows is None else partial(windows.check, windows.timezone)
            sender = self._sender(ledger, gate)
            outcome = self._send_once(sender, request, spec, deferred_since)
        except ConnectSafelyError as exc:
            raise to_airflow_error(exc) from exc
        self._outcome = outcome  # the row of a campaign asset event (base._announce)
        return self._result(outcome)

    def _spec(self, context: Context, request: MessageRequest) -> NewSend | None:
        from airflow_provider_connectsafely.ledger.records import NewSend
        from airflow_provider_connectsafely.outreach.delivery import account_key, recipient_identity

        ids = run_ids(context)
        key = (self.dedupe_key or "").strip() or None
        if key is None and ids is None:
            self.log.warning(
                "No dedupe_key and no DAG run in the context (e.g. execute({}) in a unit test): "
                "sending without the ledger, so nothing guards against sending twice"
            )
            return None
        if key is None and ids is not None:
            # Not the map index: a cleared run may map the same recipients in another order.
            dag_id, task_id, run_id, _map_index = ids
            # A conversations send may name only the conversation: then it is the identity.
            key = f"{dag_id}/{task_id}/{run_id}/{recipient_identity(request) or request.recipient}"
        assert key is not None
        return NewSend(
            dedupe_key=key,
            account=account_key(request),
            recipient=request.recipient,
            dag_id=ids[0] if ids else None,
            task_id=ids[1] if ids else None,
            run_id=ids[2] if ids else None,
            map_index=ids[3] if ids else None,
        )

    def _result(self, outcome: Outcome) -> dict[str, Any] | None:
        from airflow_provider_connectsafely.outreach import delivery

        if outcome.status == delivery.SENT_NOW:
            answer = outcome.response or {}
            self.log.info(
                "Message sent to %s (%s%s)",
                outcome.recipient,
                answer.get("recipientProfileUrn", "no URN"),
                f", conversation {answer['conversationUrn']}" if answer.get("conversationUrn") else "",
            )
            return answer
        return self._not_sent_now(outcome, "Not sending to")
