"""The ConnectSafely API client: one authenticated, reused HTTP session. No Airflow imports.

``requests`` and ``tenacity`` are imported when a client is built, not when this module is
imported, so that DAG files importing the operator stay cheap to parse.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_connectsafely import __version__, defaults, errors
from airflow_provider_connectsafely.api import reads, responses
from airflow_provider_connectsafely.api.pacing import RequestPacer
from airflow_provider_connectsafely.api.retry import RetryPolicy

if TYPE_CHECKING:
    import requests

    from airflow_provider_connectsafely.api.connect import ConnectRequest, Relationship
    from airflow_provider_connectsafely.api.models import MessageRequest
    from airflow_provider_connectsafely.api.reads import (
        ConversationMessagesRead,
        ConversationsRead,
        PagedRead,
        RecentMessagesRead,
    )

USER_AGENT = f"airflow-provider-connectsafely/{__version__}"
ACCOUNTS_PATH = "/linkedin/accounts"
#: Pages one read may fetch: a guard against a server that never stops paging.
MAX_PAGES = 1000

log = logging.getLogger(__name__)


def normalize_base_url(value: str | None) -> str:
    """``api.example.com`` → ``https://api.example.com``; refuse plain http to a remote host.

    :raises ConnectSafelyConfigError: for an unusable URL.
    """
    text = (value or "").strip() or defaults.BASE_URL
    if "://" not in text:
        text = f"https://{text}"
    shown = repr(text) if "@" not in text else "(not shown: it contains credentials)"
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises ValueError for a port that is not 0-65535
    except ValueError:
        parts = None
    # Backslashes, spaces and control characters are parsed differently by urllib (here) and
    # urllib3 (which connects): refuse them rather than check one host and connect to another.
    if parts is None or "\\" in text or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise errors.ConnectSafelyConfigError(
            f"Base URL {shown} is not a valid URL. Fix: set the connection's host to e.g. {defaults.BASE_URL}"
        )
    if parts.username or parts.password:
        raise errors.ConnectSafelyConfigError(
            "Base URL must not contain credentials. Fix: put the API key in the password field"
        )
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise errors.ConnectSafelyConfigError(
            f"Base URL {text!r} is not an http(s) URL. Fix: set the connection's host to e.g. "
            f"{defaults.BASE_URL}"
        )
    if scheme == "http" and not is_loopback(parts.hostname):
        raise errors.ConnectSafelyConfigError(
            f"Base URL {text!r} uses plain http to a non-loopback host, which would send the API "
            "key unencrypted. Fix: use https:// (plain http is allowed only to localhost/127.0.0.1)"
        )
    return f"{scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ConnectSafelyClient:
    """Talks to the ConnectSafely API over one keep-alive ``requests.Session``.

    :param api_key: the ConnectSafely API key (sent as a bearer token, never logged).
    :param base_url: API root, ``https://api.connectsafely.ai`` by default.
    :param timeout: read timeout in seconds.
    :param connect_timeout: connect timeout in seconds.
    :param verify: TLS verification: True, or a CA bundle path; False only when asked for.
    :param retry_policy: what is retried in-process (never a send of unknown outcome).
    :param sleep: how to wait between attempts (tests pass a fake).
    :param pacer: paces requests from the answers' ``X-RateLimit-*`` headers (see
        :mod:`.pacing`). By default it waits at most as long as ``retry_policy`` sits out a
        429, so a policy that waits out none (``max_rate_limit_wait=0``) never paces either;
        :meth:`RequestPacer.off` turns pacing off. The default pacer shares its window with the
        process's other clients of the same API key and base URL.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        timeout: float = defaults.TIMEOUT,
        connect_timeout: float = defaults.CONNECT_TIMEOUT,
        verify: bool | str = True,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        pacer: RequestPacer | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise errors.ConnectSafelyConfigError("No API key given")
        self._api_key = api_key.strip()
        self.base_url = normalize_base_url(base_url)
        self.timeout = (min(connect_timeout, timeout), timeout)
        self.verify = verify
        self.retry_policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self.pacer = pacer or RequestPacer(
            max_wait=self.retry_policy.max_rate_limit_wait, sleep=sleep, key=self._key_fingerprint()
        )

    def __repr__(self) -> str:
        return f"ConnectSafelyClient(base_url={self.base_url!r})"

    def _key_fingerprint(self) -> str:
        """Names the API key's request window (shared by this process's clients of the key)
        without holding the key itself."""
        import hashlib

        return hashlib.sha256(f"{self.base_url}\0{self._api_key}".encode()).hexdigest()

    @cached_property
    def session(self) -> requests.Session:
        import requests

        from airflow_provider_connectsafely.api.auth import BearerAuth

        session = requests.Session()
        session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        # Session-level auth (not a default header) keeps a ~/.netrc entry from replacing the
        # key, and lets requests drop it on a redirect to another host.
        session.auth = BearerAuth(self._api_key)
        session.verify = self.verify
        return session

    def close(self) -> None:
        if "session" in self.__dict__:
            self.session.close()
            del self.__dict__["session"]

    def send(self, request: MessageRequest) -> dict[str, Any]:
        """Send one message through the request's endpoint (``/messaging/send``,
        ``send-with-typing`` or ``/conversations/send``); return the API's JSON answer.

        :param request: a validated request; its model names the endpoint and the body.
        :raises ConnectSafelyError: a typed subclass saying whether it may have been delivered.
        """
        return self._with_retries(lambda: self._post(request.path, request.to_body()))

    def send_connection_request(self, request: ConnectRequest) -> dict[str, Any]:
        """``POST /linkedin/connect``: invite one person; return the API's JSON answer.

        Like a message, it is never retried once it may have gone out: only a connection that
        never opened, or a 429 with a near reset, is tried again.

        :param request: a validated request.
        :raises ConnectSafelyError: a typed subclass saying whether it may have been delivered.
        """
        return self._with_retries(lambda: self._post(request.path, request.to_body()))

    def get_relationship(self, profile_id: str, account_id: str | None = None) -> Relationship:
        """``GET /linkedin/relationship/{profileId}``: a read, retried when it fails in a way
        reads may retry.

        :param profile_id: a profile ID, ``linkedin.com/in/`` URL or profile URN.
        :param account_id: the account (the API's default when None).
        :raises ConnectSafelyValidationError: a bad profile or account, before any request.
        :raises ConnectSafelyError: a typed error; :class:`ReadFailedError` when no usable
            answer came back after the retries.
        """
        from airflow_provider_connectsafely.api.connect import Relationship, RelationshipRead

        read = RelationshipRead.build(profile_id, account_id)
        return Relationship.parse(self._with_retries(partial(self._read_page, read.path, read.params())))

    def list_accounts(self) -> dict[str, Any]:
        """``GET /linkedin/accounts``: read-only and authenticated."""
        return self._with_retries(lambda: self._get(ACCOUNTS_PATH))

    def conversation_messages(self, read: ConversationMessagesRead) -> list[dict[str, Any]]:
        """``GET /linkedin/conversations/{conversationUrn}/messages``, every page.

        :param read: the conversation, account, page size and ``since``.
        :returns: the messages after ``since``, newest first (as the API lists them).
        """
        return self.read_all(read)

    def list_conversations(self, read: ConversationsRead) -> list[dict[str, Any]]:
        """``GET /linkedin/conversations``, every page.

        :param read: the account, page size and ``unread_only``.
        :returns: the conversations, latest activity first.
        """
        return self.read_all(read)

    def recent_messages(self, read: RecentMessagesRead) -> list[dict[str, Any]]:
        """``GET /linkedin/messaging/recent-messages``, paged until older than ``since``.

        :param read: the account, page size and ``since``.
        :returns: the messages after ``since`` across conversations, newest first.
        """
        return self.read_all(read)

    def read_all(self, read: PagedRead) -> list[dict[str, Any]]:
        """Follow ``nextCursor`` until the last page, or until a page reaches back to
        ``read.since`` (lists are newest first, so every later page is older). Each page is
        retried on its own when it fails in a way reads may retry.

        :param read: the endpoint's request model.
        :returns: the items after ``read.since``, in the API's order, without repeats.
        :raises ConnectSafelyError: a typed error; :class:`ReadFailedError` when no usable
            answer came back after the retries.
        """
        found: list[dict[str, Any]] = []
        seen_ids: set[Any] = set()
        seen_cursors: set[str] = set()
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            body = self._with_retries(partial(self._read_page, read.path, read.params(cursor)))
            items = read.items(body)
            for item in items:
                ident = item.get(read.id_field)
                if read.is_new(item) and (ident is None or ident not in seen_ids):
                    found.append(item)
                    if ident is not None:
                        seen_ids.add(ident)
            cursor = reads.next_cursor(body)
            if cursor is None or cursor in seen_cursors or not all(read.is_new(i) for i in items):
                return found
            seen_cursors.add(cursor)
        log.warning("Stopped reading %s after %d pages", read.path, MAX_PAGES)
        return found

    def _read_page(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """One ``GET``; a failure that says nothing about the answer is a retryable read error."""
        try:
            return self._request("GET", path, params=params)
        except errors.DeliveryUnknownError as exc:
            raise errors.ReadFailedError(exc.reason, exc.status_code) from exc
        except errors.ServiceUnavailableError as exc:
            raise errors.ReadFailedError(
                f"ConnectSafely API answered 503: {exc.server_message}", 503
            ) from exc
        except errors.SendRejectedError as exc:
            raise errors.ConnectSafelyAPIError(
                exc.status_code, exc.server_message, "The API refused the read"
            ) from exc

    def _with_retries(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        # The first attempt runs outside tenacity: a send that succeeds, or fails in a way the
        # policy does not retry, pays nothing for the retry machinery (building a Retrying on
        # every call showed up when profiling benchmarks/send_overhead.py). A failure the
        # policy retries is handed to tenacity as its attempt 1, so the waits, the attempt
        # numbers and the log lines are those of a loop run wholly by tenacity.
        try:
            return call()
        except Exception as exc:
            if self.retry_policy.delay(exc, 1) is None:
                raise
            first_failure: Exception | None = exc

        def replay_then_call() -> dict[str, Any]:
            nonlocal first_failure
            if first_failure is not None:
                failure, first_failure = first_failure, None
                raise failure
            return call()

        return self._retry_loop(replay_then_call)

    def _retry_loop(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        import tenacity

        policy = self.retry_policy

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return (policy.delay(error, state.attempt_number) if error else None) or 0.0

        def should_retry(state: tenacity.RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            return error is not None and policy.delay(error, state.attempt_number) is not None

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            sleep = state.next_action.sleep if state.next_action else 0.0
            log.warning("Attempt %d failed (%s); retrying in %.1f s", state.attempt_number, error, sleep)

        retrying = tenacity.Retrying(
            retry=should_retry,
            wait=wait,
            stop=tenacity.stop_after_attempt(policy.max_attempts),
            before_sleep=before_sleep,
            reraise=True,
            sleep=self._sleep or time.sleep,
        )
        return retrying(call)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", path, json=body)

    def _get(self, path: str) -> dict[str, Any]:
        return self._request("GET", path)

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        import requests

        url = self.base_url + path
        self.pacer.before_request()
        try:
            # verify per request: a session's verify loses to REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
            # (psf/requests#3829), which would silently ignore the connection's CA bundle.
            response = self.session.request(
                method, url, timeout=self.timeout, allow_redirects=False, verify=self.verify, **kwargs
            )
        except requests.exceptions.ConnectTimeout as exc:
            raise errors.ConnectionFailedError(f"Timed out connecting to {self.base_url}") from exc
        except requests.exceptions.ReadTimeout as exc:
            raise errors.DeliveryUnknownError(
                f"No answer from {self.base_url} within {self.timeout[1]:g} s (read timeout)"
            ) from exc
        except requests.exceptions.SSLError as exc:
            import ssl

            # urllib3 raises SSLError for a failed handshake and for a TLS error while reading
            # the answer, after the request went out. Only a refused certificate proves that
            # nothing was sent; any other TLS error may follow a delivered request.
            if _caused_by(exc, ssl.SSLCertVerificationError, ssl.CertificateError):
                raise errors.ConnectSafelyConfigError(
                    f"TLS handshake with {self.base_url} failed: its certificate could not be "
                    "verified (nothing was sent). Fix: use the API's real address, or trust a "
                    "private CA with the connection extra verify='/path/to/ca.pem'"
                ) from exc
            raise errors.DeliveryUnknownError(
                f"TLS error talking to {self.base_url} ({type(exc).__name__})"
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise errors.ConnectionFailedError(
                    f"Could not connect to {self.base_url} (nothing was sent)"
                ) from exc
            raise errors.DeliveryUnknownError(
                f"The connection to {self.base_url} broke after the request was sent"
            ) from exc
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            # Raised while reading the body of an answer: the request was handled.
            raise errors.DeliveryUnknownError(
                f"The answer from {self.base_url} was cut off or unreadable ({type(exc).__name__})"
            ) from exc
        except requests.exceptions.InvalidURL as exc:
            raise errors.ConnectSafelyConfigError(
                f"Base URL {self.base_url!r} cannot be used ({type(exc).__name__}). Fix: set the "
                f"connection's host to e.g. {defaults.BASE_URL}"
            ) from exc
        except requests.exceptions.RequestException as exc:
            # Anything else requests may raise: not provably unsent, so never retried.
            raise errors.DeliveryUnknownError(
                f"The request to {self.base_url} failed ({type(exc).__name__})"
            ) from exc
        self.pacer.observe(response.headers)
        if 200 <= response.status_code < 300:
            return responses.success_body(response, redact=self._api_key)
        raise responses.error_for(response, datetime.now(timezone.utc), redact=self._api_key)


def _never_connected(exc: Exception) -> bool:
    """True when urllib3 failed while opening the connection, before sending a byte."""
    from urllib3.exceptions import NewConnectionError  # NameResolutionError is a subclass

    return _caused_by(exc, NewConnectionError)


def _caused_by(exc: BaseException, *kinds: type[BaseException]) -> bool:
    """Whether ``exc`` or an error it wraps is one of ``kinds``.

    requests wraps urllib3's errors (``MaxRetryError.reason``, ``args[0]``) rather than
    chaining them, so ``__cause__`` alone does not reach them.
    """
    current: object = exc
    for _ in range(8):
        if isinstance(current, kinds):
            return True
        if not isinstance(current, BaseException):
            return False
        current = (
            getattr(current, "reason", None)
            or (current.args[0] if current.args and isinstance(current.args[0], BaseException) else None)
            or current.__cause__
            or current.__context__
        )
    return False
