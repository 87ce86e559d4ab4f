"""Operators that send LinkedIn messages through ConnectSafely.

Only Airflow's task SDK is imported at module level: DAG files import this on every parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_connectsafely.errors import ConnectSafelyError
    from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook
    from airflow_provider_connectsafely.models import MessageLimits


class SendLinkedInMessageOperator(BaseOperator):
    """Send one LinkedIn direct message and push the API's JSON answer to XCom.

    Every text parameter is templated; ``message`` may also name a template file
    (``.txt``, ``.j2``, ``.md``). Arguments are validated after rendering and before any
    request; bad input fails the task at once, without Airflow retries.

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
    :param conversation_urn: existing conversation for the typing indicator.
    :param connectsafely_conn_id: the ConnectSafely connection.
    :param message_limits: length limits, e.g. ``{"normal": 8000, "inmail": 1900, "subject": 200}``.
    :param max_rate_limit_wait: longest 429 wait (seconds) to sit out inside the task.
    """

    template_fields: Sequence[str] = (
        "message",
        "recipient_profile_id",
        "recipient_profile_urn",
        "subject",
        "message_type",
        "account_id",
        "conversation_urn",
        "connectsafely_conn_id",
    )
    template_ext: Sequence[str] = (".txt", ".j2", ".md")
    template_fields_renderers = {"message": "md"}
    ui_color = "#e7f0fa"

    def __init__(
        self,
        *,
        message: str,
        recipient_profile_id: str | None = None,
        recipient_profile_urn: str | None = None,
        subject: str | None = None,
        message_type: str = "normal",
        account_id: str | None = None,
        typing_indicator: bool = False,
        conversation_urn: str | None = None,
        connectsafely_conn_id: str = "connectsafely_default",
        message_limits: MessageLimits | dict[str, int] | None = None,
        max_rate_limit_wait: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.message = message
        self.recipient_profile_id = recipient_profile_id
        self.recipient_profile_urn = recipient_profile_urn
        self.subject = subject
        self.message_type = message_type
        self.account_id = account_id
        self.typing_indicator = typing_indicator
        self.conversation_urn = conversation_urn
        self.connectsafely_conn_id = connectsafely_conn_id
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

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_connectsafely.errors import ConnectSafelyError

        hook = self.hook
        try:
            request = hook.build_request(
                message=self.message,
                recipient_profile_id=self.recipient_profile_id,
                recipient_profile_urn=self.recipient_profile_urn,
                subject=self.subject,
                message_type=self.message_type,
                account_id=self.account_id,
                typing_indicator=self.typing_indicator,
                conversation_urn=self.conversation_urn,
            )
            answer = hook.send_request(request)
        except ConnectSafelyError as exc:
            raise to_airflow_error(exc) from exc
        self.log.info(
            "Message sent to %s (%s)", request.recipient, answer.get("recipientProfileUrn", "no URN")
        )
        return answer


def to_airflow_error(exc: ConnectSafelyError) -> Exception:
    """The Airflow exception for a provider error: retryable ones let Airflow retry the
    task; the rest (bad input, auth, unknown delivery...) fail it without retries."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    kind = AirflowException if exc.retryable else AirflowFailException
    return kind(f"{type(exc).__name__}: {exc.message}")
