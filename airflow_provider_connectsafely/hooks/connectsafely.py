"""The Airflow hook: turns a ``connectsafely`` connection into an API client."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_connectsafely import connection_form, defaults

if TYPE_CHECKING:
    from airflow_provider_connectsafely.api.client import ConnectSafelyClient
    from airflow_provider_connectsafely.api.models import MessageLimits, MessageRequest
    from airflow_provider_connectsafely.api.retry import RetryPolicy
    from airflow_provider_connectsafely.settings import ConnectionSettings


class ConnectSafelyHook(BaseHook):
    """Send LinkedIn messages through the ConnectSafely API.

    The connection is read on first use, not when the hook is built. Its password is the
    API key, its host the base URL (``https://api.connectsafely.ai`` when empty), and its
    extras may set ``account_id`` (default sender) and ``timeout`` (seconds).

    :param connectsafely_conn_id: the Airflow connection to use.
    :param timeout: read timeout in seconds; overrides the connection's ``timeout`` extra.
    :param max_rate_limit_wait: longest 429 wait (seconds) to sit out in-process; a later
        reset raises :class:`~airflow_provider_connectsafely.api.errors.RateLimitError`.
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

        from airflow_provider_connectsafely.api.errors import ConnectSafelyConfigError
        from airflow_provider_connectsafely.compat import AirflowNotFoundException  # 3.1: not in the SDK
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

    def get_conn(self) -> ConnectSafelyClient:
        return self.client

    def build_request(
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
    ) -> MessageRequest:
        """Validate the arguments without reading the connection.

        :raises ConnectSafelyValidationError: naming the field and the fix.
        """
        from airflow_provider_connectsafely.api.models import MessageRequest

        return MessageRequest.build(
            message=message,
            recipient_profile_id=recipient_profile_id,
            recipient_profile_urn=recipient_profile_urn,
            subject=subject,
            message_type=message_type,
            account_id=account_id,
            typing_indicator=typing_indicator,
            conversation_urn=conversation_urn,
            limits=self.message_limits,
        )

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

    def send_message(
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
    ) -> dict[str, Any]:
        """Validate, then send one LinkedIn message; return the API's JSON answer.

        :raises ConnectSafelyValidationError: bad input, before anything is sent.
        :raises ConnectSafelyError: a typed API or transport error (see ``errors``).
        """
        request = self.build_request(
            message=message,
            recipient_profile_id=recipient_profile_id,
            recipient_profile_urn=recipient_profile_urn,
            subject=subject,
            message_type=message_type,
            account_id=account_id,
            typing_indicator=typing_indicator,
            conversation_urn=conversation_urn,
        )
        return self.send_request(request)

    def list_accounts(self) -> dict[str, Any]:
        """The LinkedIn accounts connected to this API key (read-only)."""
        return self.client.list_accounts()

    def test_connection(self) -> tuple[bool, str]:
        """Check the key with a read-only call (``GET /linkedin/accounts``); never sends."""
        from airflow_provider_connectsafely.api.errors import ConnectSafelyError

        try:
            answer = self.list_accounts()
        except ConnectSafelyError as exc:
            return False, exc.message
        accounts = answer.get("accounts") or answer.get("data") or []
        count = len(accounts) if isinstance(accounts, list) else 0
        return True, f"Connected to {self.settings.base_url}: {count} LinkedIn account(s) available"
