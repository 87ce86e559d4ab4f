"""The Airflow hook: turns a ``connectsafely`` connection into an API client."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseHook

from airflow_provider_connectsafely import connection_form, defaults

if TYPE_CHECKING:
    from datetime import datetime

    from typing_extensions import Unpack

    from airflow_provider_connectsafely.api.client import ConnectSafelyClient
    from airflow_provider_connectsafely.api.connect import ConnectRequest, Relationship
    from airflow_provider_connectsafely.api.models import MessageArgs, MessageLimits, MessageRequest
    from airflow_provider_connectsafely.api.reads import PagedRead
    from airflow_provider_connectsafely.api.retry import RetryPolicy
    from airflow_provider_connectsafely.ledger.store import SendLedger
    from airflow_provider_connectsafely.settings import ConnectionSettings

_Read = TypeVar("_Read", bound="PagedRead")


class ConnectSafelyHook(BaseHook):
    """Send LinkedIn messages through the ConnectSafely API.

    The connection is read on first use, not when the hook is built. Its password is the
    API key, its host the base URL (``https://api.connectsafely.ai`` when empty), and its
    extras may set ``account_id`` (default sender) and ``timeout`` (seconds).

    :param connectsafely_conn_id: the Airflow connection to use.
    :param timeout: read timeout in seconds; overrides the connection's ``timeout`` extra.
    :param max_rate_limit_wait: longest 429 wait (seconds) to sit out in-process; a later
        reset raises :class:`~airflow_provider_connectsafely.errors.RateLimitError`.
    :param retry_policy: full control over in-process retries (overrides ``max_rate_limit_wait``).
    :param message_limits: length limits, e.g. ``{"normal": 8000, "inmail": 1900, "subject": 200}``.
    """

    conn_name_attr = "connectsafely_conn_id"
    default_conn_name = defaults.CONN_ID
    conn_type = connection_form.CONN_TYPE
    hook_name = connection_form.HOOK_NAME

    def __init__(
        self,
        connectsafely_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_rate_limit_wait: float = defaults.MAX_RATE_LIMIT_WAIT,
        retry_policy: RetryPolicy | None = None,
        message_limits: MessageLimits | dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.connectsafely_conn_id = connectsafely_conn_id
        self.timeout = timeout
        self.max_rate_limit_wait = max_rate_limit_wait
        self.retry_policy = retry_policy
        self.message_limits = message_limits

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return connection_form.ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return connection_form.form_widgets()

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The connection's settings, read once; the API key is masked in logs from here on."""
        from airflow.sdk.log import mask_secret

        from airflow_provider_connectsafely.compat import AirflowNotFoundException  # 3.1: not in the SDK
        from airflow_provider_connectsafely.errors import ConnectSafelyConfigError
        from airflow_provider_connectsafely.settings import ConnectionSettings

        try:
            conn = self.get_connection(self.connectsafely_conn_id)
        except AirflowNotFoundException as exc:
            # Bad input (a typo, or a template rendering the wrong id): fail, don't retry.
            raise ConnectSafelyConfigError(
                f"Connection {self.connectsafely_conn_id!r} is not defined. Fix: create it "
                "(connection type ConnectSafely), or set connectsafely_conn_id to an existing one"
            ) from exc
        if conn.password:
            mask_secret(conn.password)
            mask_secret(conn.password.strip())
        settings = ConnectionSettings.from_fields(
            self.connectsafely_conn_id,
            password=conn.password,
            host=conn.host,
            port=conn.port,
            schema=conn.schema,
            extra=conn.extra_dejson,
        )
        if settings.verify is False:
            self.log.warning(
                "TLS certificate verification is OFF for connection %r (extra verify=false). "
                "Use this only against a test server.",
                self.connectsafely_conn_id,
            )
        return settings

    @cached_property
    def client(self) -> ConnectSafelyClient:
        """One client (one keep-alive session) per hook, built on first use."""
        from airflow_provider_connectsafely.api.client import ConnectSafelyClient
        from airflow_provider_connectsafely.api.retry import RetryPolicy

        settings = self.settings
        return ConnectSafelyClient(
            settings.api_key,
            settings.base_url,
            timeout=self.timeout or settings.timeout,
            verify=settings.verify,
            retry_policy=self.retry_policy or RetryPolicy.default(self.max_rate_limit_wait),
        )

    def get_ledger(self, ledger_conn_id: str | None = None) -> SendLedger:
        """The send ledger the tasks of this connection use (found as every surface finds it:
        ``ledger_conn_id``, ``[connectsafely] ledger_conn_id``, this connection's
        ``ledger_conn_id`` extra, the default SQLite file), e.g. to sync the do-not-contact
        list from a CRM with ``suppress_many``.
        """
        from airflow_provider_connectsafely.errors import ConnectSafelyConfigError
        from airflow_provider_connectsafely.ledger import locate

        try:
            where = locate.locate(ledger_conn_id, extra_ledger_conn_id=self.settings.ledger_conn_id)
        except locate.LedgerUnavailable as exc:
            raise ConnectSafelyConfigError(str(exc)) from exc
        return locate.open_ledger(where, self.log)

    def get_conn(self) -> ConnectSafelyClient:
        return self.client

    def build_request(self, **args: Unpack[MessageArgs]) -> MessageRequest:
        """Validate the arguments without reading the connection (parameters as :meth:`send_message`).

        :raises ConnectSafelyValidationError: naming the field and the fix.
        """
        from airflow_provider_connectsafely.api.conversation_send import build_send_request

        return build_send_request(**args, limits=self.message_limits)

    def send_request(self, request: MessageRequest) -> dict[str, Any]:
        """Send a validated request (the connection's default account filled in when the
        request names none); return the API's JSON answer."""
        request = request.with_default_account(self.settings.account_id)
        # DEBUG, like HttpHook's "Sending ..." line: the operators and the notifier log the
        # outcome at INFO. At INFO this line was the largest per-send cost profiling found
        # (Airflow's structlog chain formats and writes it); see benchmarks/send_overhead.py.
        self.log.debug(
            "Sending %s message to %s via %s", request.message_type, request.recipient, request.path
        )
        return self.client.send(request)

    def send_message(self, **args: Unpack[MessageArgs]) -> dict[str, Any]:
        """Validate, then send one LinkedIn message; return the API's JSON answer.

        A send is never retried once it may have gone out (see ``errors.DeliveryUnknownError``).
        The arguments (``message``, ``recipient_profile_id`` or ``recipient_profile_urn``,
        ``subject``, ``message_type``, ``account_id``, ``typing_indicator``,
        ``conversation_urn``, ``endpoint``, ``attachments``, ``messaging_channel``) are
        described once, in :class:`~airflow_provider_connectsafely.api.models.MessageArgs`.

        :raises ConnectSafelyValidationError: bad input, before anything is sent.
        :raises ConnectSafelyError: a typed API or transport error (see ``errors``).
        """
        return self.send_request(self.build_request(**args))

    def build_connect_request(
        self,
        *,
        recipient_profile_id: str | None = None,
        recipient_profile_urn: str | None = None,
        note: str | None = None,
        account_id: str | None = None,
    ) -> ConnectRequest:
        """Validate a connection request without reading the connection (parameters as
        :meth:`send_connection_request`).

        :raises ConnectSafelyValidationError: naming the field and the fix.
        """
        from airflow_provider_connectsafely.api.connect import ConnectRequest

        return ConnectRequest.build(
            recipient_profile_id=recipient_profile_id,
            recipient_profile_urn=recipient_profile_urn,
            note=note,
            account_id=account_id,
        )

    def send_connect_request(self, request: ConnectRequest) -> dict[str, Any]:
        """Send a validated connection request (the connection's default account filled in
        when the request names none); return the API's JSON answer.

        :param request: from :meth:`build_connect_request`.
        """
        request = request.with_default_account(self.settings.account_id)
        self.log.debug("Sending a connection request to %s via %s", request.recipient, request.path)
        return self.client.send_connection_request(request)

    def send_connection_request(
        self,
        *,
        recipient_profile_id: str | None = None,
        recipient_profile_urn: str | None = None,
        note: str | None = None,
        account_id: str | None = None,
    ) -> dict[str, Any]:
        """Validate, then send one LinkedIn connection request (``POST /linkedin/connect``);
        return the API's JSON answer (``invitationId``, ``profileUrn``).

        Never retried once it may have gone out. No ledger and no weekly cap here: the
        operator adds them (see ``SendLinkedInConnectionRequestOperator``).

        :param recipient_profile_id: the person's profile ID or profile URL.
        :param recipient_profile_urn: the person's profile URN; give exactly one of the two.
        :param note: the invitation's note (``customMessage``), at most 300 characters.
        :param account_id: the account that invites; the connection's ``account_id`` extra when None.
        :raises ConnectSafelyValidationError: bad input, before anything is sent.
        :raises ConnectSafelyError: a typed API or transport error (see ``errors``); a 429
            (weekly limit, or a hold) is a ``RateLimitError`` with ``reset_at``.
        """
        request = self.build_connect_request(
            recipient_profile_id=recipient_profile_id,
            recipient_profile_urn=recipient_profile_urn,
            note=note,
            account_id=account_id,
        )
        return self.send_connect_request(request)

    def get_relationship(self, profile_id: str, account_id: str | None = None) -> Relationship:
        """The account's relationship with a person (``GET /linkedin/relationship/{profileId}``):
        ``connected``, ``invitation_sent``, ``invitation_received``, ``status``; ``to_dict()``
        gives the API's field names. A read: retried in-process when it fails.

        :param profile_id: a profile ID, ``linkedin.com/in/`` URL or profile URN (the API
            documents IDs; a URN is sent URL-encoded in the path).
        :param account_id: the account; the connection's ``account_id`` extra when None.
        :raises ConnectSafelyValidationError: bad input, before any request.
        """
        from airflow_provider_connectsafely.api.connect import RelationshipRead

        read = RelationshipRead.build(profile_id, account_id)
        return self.client.get_relationship(read.profile, read.account_id or self.settings.account_id)

    def get_conversation_messages(
        self, conversation_urn: str, *, since: datetime | str | None = None, account_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every message of one conversation (after ``since``), oldest first, each with its
        ``conversationUrn``. Pages are followed to the end; reads are retried when they fail.

        :param conversation_urn: the conversation (``conversationUrn`` of a send's answer).
        :param since: only messages sent strictly after it: an aware datetime or ISO 8601 string.
        :param account_id: the account; the connection's ``account_id`` extra when None.
        :raises ConnectSafelyValidationError: bad input, before any request.
        """
        from airflow_provider_connectsafely.api.reads import (
            ConversationMessagesRead,
            oldest_first,
            parse_since,
        )

        moment = None if since is None else parse_since(since)
        read = ConversationMessagesRead(
            conversation_urn=conversation_urn, since=moment, account_id=account_id
        )
        messages = self.client.conversation_messages(self._with_account(read))
        for message in messages:
            message.setdefault("conversationUrn", read.conversation_urn)
        return oldest_first(messages, read)

    def find_replies(
        self, conversation_urn: str, *, since: datetime | str, account_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The other person's messages (``isSentByOwner`` false) after ``since``, oldest first.

        :param conversation_urn: the conversation.
        :param since: an aware datetime or ISO 8601 string, e.g. when the message was sent.
        :param account_id: the account; the connection's ``account_id`` extra when None.
        """
        from airflow_provider_connectsafely.api.reads import is_reply, parse_since

        messages = self.get_conversation_messages(
            conversation_urn, since=parse_since(since), account_id=account_id
        )
        return [m for m in messages if is_reply(m)]

    def list_conversations(
        self, *, account_id: str | None = None, unread_only: bool = False, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """The account's conversations, latest activity first (every page).

        :param account_id: the account; the connection's ``account_id`` extra when None.
        :param unread_only: only conversations with unread messages.
        :param page_size: conversations per request, 1 to 100.
        """
        from airflow_provider_connectsafely.api.reads import ConversationsRead

        read = ConversationsRead(account_id=account_id, unread_only=unread_only, count=page_size)
        return self.client.list_conversations(self._with_account(read))

    def recent_messages(
        self, *, since: datetime | str, account_id: str | None = None, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """Every message after ``since`` across the account's conversations, oldest first,
        each with its ``conversationUrn``. Paging stops at the first message older than ``since``,
        so one request usually covers a polling interval, however many conversations are watched.

        :param since: an aware datetime or ISO 8601 string.
        :param account_id: the account; the connection's ``account_id`` extra when None.
        :param page_size: messages per request, 1 to 100.
        """
        from airflow_provider_connectsafely.api.reads import (
            RecentMessagesRead,
            conversation_of,
            oldest_first,
            parse_since,
        )

        read = RecentMessagesRead(since=parse_since(since), account_id=account_id, count=page_size)
        messages = self.client.recent_messages(self._with_account(read))
        for message in messages:
            message.setdefault("conversationUrn", conversation_of(message))
        return oldest_first(messages, read)

    def recent_replies(
        self, *, since: datetime | str, account_id: str | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Replies (``isSentByOwner`` false) after ``since`` across the account's conversations,
        grouped by ``conversationUrn`` (first replied first), each list oldest first.

        :param since: an aware datetime or ISO 8601 string.
        :param account_id: the account; the connection's ``account_id`` extra when None.
        """
        from airflow_provider_connectsafely.api.reads import replies_by_conversation

        return replies_by_conversation(self.recent_messages(since=since, account_id=account_id))

    def _with_account(self, read: _Read) -> _Read:
        """``read`` for the connection's default account when it names none (validated first)."""
        from dataclasses import replace

        if read.account_id or not self.settings.account_id:
            return read
        return replace(read, account_id=self.settings.account_id)

    def list_accounts(self) -> dict[str, Any]:
        """The LinkedIn accounts connected to this API key (read-only)."""
        return self.client.list_accounts()

    def test_connection(self) -> tuple[bool, str]:
        """Check the key with a read-only call (``GET /linkedin/accounts``); never sends."""
        from airflow_provider_connectsafely.errors import ConnectSafelyError

        try:
            answer = self.list_accounts()
        except ConnectSafelyError as exc:
            return False, exc.message
        accounts = answer.get("accounts") or answer.get("data") or []
        count = len(accounts) if isinstance(accounts, list) else 0
        return True, f"Connected to {self.settings.base_url}: {count} LinkedIn account(s) available"
