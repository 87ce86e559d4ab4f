"""A notifier that sends a LinkedIn message when a task or a DAG run succeeds or fails.

Only Airflow's task SDK is imported at module level: DAG files import this on every parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from airflow_provider_connectsafely import defaults

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

    from airflow_provider_connectsafely.api.models import MessageRequest
    from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook


class ConnectSafelyNotifier(BaseNotifier):
    """Send a LinkedIn direct message through ConnectSafely from a callback.

    Use it (or its alias :data:`send_linkedin_notification`) as ``on_success_callback`` or
    ``on_failure_callback`` of a task or a DAG. Every text parameter is a Jinja template,
    rendered with the callback's context (``{{ ti.task_id }}``, ``{{ dag.dag_id }}``,
    ``{{ ds }}``, ``{{ exception }}`` for failures, ...). The arguments are validated after
    rendering with the same rules as :class:`SendLinkedInMessageOperator`; the connection is
    read only when a message is sent, never when the notifier is built.

    :param message: the message text.
    :param recipient_profile_id: the recipient's profile ID, or profile URL
        (``https://www.linkedin.com/in/john-doe-123/`` is sent as ``john-doe-123``).
    :param recipient_profile_urn: the recipient's URN (``urn:li:fsd_profile:...``); give
        exactly one of the two recipient parameters.
    :param subject: InMail subject (only with ``message_type="inmail"``).
    :param message_type: ``normal`` (to a 1st-degree connection) or ``inmail``.
    :param account_id: the LinkedIn account to send from; the connection's ``account_id``
        extra, else the API's default account, when None.
    :param connectsafely_conn_id: the ConnectSafely connection.
    :param respect_do_not_contact: look the recipient up on the ledger's do-not-contact list
        first and send nothing (a log line says so) when they are on it; False for a recipient
        who must get the alert whatever (an on-call engineer). The notifier claims nothing in
        the ledger: this is a check, not a claim.
    :param context: the Airflow context, for awaiting the notifier directly
        (``await ConnectSafelyNotifier(..., context=context)``); callbacks pass it themselves.
    """

    # Not ``template_ext``: a message such as "see notes.txt" must stay a message, not be
    # read as a template file.
    template_fields: Sequence[str] = (
        "message",
        "recipient_profile_id",
        "recipient_profile_urn",
        "subject",
        "message_type",
        "account_id",
        "connectsafely_conn_id",
    )

    def __init__(
        self,
        *,
        message: str,
        recipient_profile_id: str | None = None,
        recipient_profile_urn: str | None = None,
        subject: str | None = None,
        message_type: str = "normal",
        account_id: str | None = None,
        connectsafely_conn_id: str = defaults.CONN_ID,
        respect_do_not_contact: bool = True,
        context: Context | None = None,
    ) -> None:
        super().__init__(context=context)
        self.message = message
        self.recipient_profile_id = recipient_profile_id
        self.recipient_profile_urn = recipient_profile_urn
        self.subject = subject
        self.message_type = message_type
        self.account_id = account_id
        self.connectsafely_conn_id = connectsafely_conn_id
        self.respect_do_not_contact = respect_do_not_contact
        # Rendering replaces the attributes in place. One notifier object often serves several
        # callbacks (``default_args``, a DAG and its tasks, ``dag.test()`` in one process), so
        # keep the templates and render each call from them, not from the last call's output.
        self._templates = {name: getattr(self, name) for name in self.template_fields}

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        for name, template in self._templates.items():
            setattr(self, name, template)
        # Compatibility: workers always put ``exception`` in a task's context (None unless it
        # failed), but Airflow 3.1's ``dag.test()`` leaves it out, and ``{{ exception }}``
        # would then fail to render (Airflow's templates use StrictUndefined).
        context.setdefault("exception", None)
        dag = context.get("dag")
        if jinja_env is None and dag is not None and not hasattr(dag, "get_template_env"):
            # Compatibility: ``dag.test()`` (Airflow 3.1 to 3.3) runs DAG-level callbacks with
            # the scheduler's serialized DAG in the context, which cannot build a Jinja
            # environment; BaseNotifier would fail with AttributeError. Render sandboxed.
            jinja_env = self.get_template_env(dag=None)
        super().render_template_fields(context, jinja_env)
        hook = self.__dict__.get("hook")
        if hook is not None and hook.connectsafely_conn_id != self.connectsafely_conn_id:
            del self.__dict__["hook"]  # the connection id rendered differently this time

    @cached_property
    def hook(self) -> ConnectSafelyHook:
        """The hook, built on first use (after templates rendered the connection id)."""
        from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook

        return ConnectSafelyHook(self.connectsafely_conn_id)

    def build_request(self) -> MessageRequest:
        """The validated request for the rendered fields; both send paths use it.

        :raises ConnectSafelyValidationError: naming the field and the fix, before any request.
        """
        from airflow_provider_connectsafely.api.models import MESSAGE_FIELDS

        return self.hook.build_request(**{name: getattr(self, name) for name in MESSAGE_FIELDS})

    def _send(self, request: MessageRequest) -> dict[str, Any] | None:
        if self.respect_do_not_contact:
            reason = self._suppressed(request)
            if reason is not None:
                self.log.warning("LinkedIn notification to %s not sent: %s", request.recipient, reason)
                return None
        answer = self.hook.send_request(request)
        self.log.info(
            "LinkedIn notification sent to %s (%s)",
            request.recipient,
            answer.get("recipientProfileUrn", "no URN"),
        )
        return answer

    def _suppressed(self, request: MessageRequest) -> str | None:
        """Why the recipient must not be contacted, or None (also when there is no ledger yet)."""
        from pathlib import Path

        from airflow_provider_connectsafely.ledger import locate

        location = locate.locate(connectsafely_conn_id=self.connectsafely_conn_id)
        if location.source == locate.DEFAULT and not Path(location.url.removeprefix("sqlite:///")).is_file():
            return None
        entry = locate.open_ledger(location, self.log).suppressed(request.recipient)
        return entry.describe() if entry is not None else None

    def notify(self, context: Context) -> None:
        """Send the message (callbacks call this after rendering the templates).

        :raises ConnectSafelyError: bad input, or a typed API or transport error.
        """
        self._send(self.build_request())

    async def async_notify(self, context: Context) -> None:
        """Send the message without blocking the event loop (e.g. in the triggerer).

        The blocking HTTP call, and the connection lookup on first use, run in a worker thread
        handed off as the reply triggers do, so the lookup works in Airflow 3.1's triggerer.
        """
        from airflow_provider_connectsafely.triggers.polling import in_thread

        request = self.build_request()
        await in_thread(self._send, request)


send_linkedin_notification = ConnectSafelyNotifier
