"""The :class:`EmulatorServer`: the emulator's HTTP server run in a background thread, with
Python shortcuts for what the ``/_emulator/*`` control endpoints do (see :mod:`.control`)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from . import control
from .clock import Clock, utc_now
from .connections import DEFAULT_WEEKLY_LIMIT
from .faults import build_fault
from .http_handler import EmulatorHTTPServer
from .rate_limit import DEFAULT_WINDOW
from .state import EmulatorState


class EmulatorServer:
    """A local ConnectSafely API, run in a background thread.

    Use as a context manager or call :meth:`start` / :meth:`stop`.

    :param api_key: bearer key clients must send.
    :param host: interface to bind (keep it on loopback: the admin endpoints have no auth).
    :param port: TCP port; 0 picks a free one (read it back from :attr:`port`).
    :param daily_limit: messages per account per UTC day before sends answer 429.
    :param accounts: account ids, the first being the default; two deterministic ids if ``None``.
    :param verbose: log each request to stderr.
    :param clock: source of the current UTC time, e.g. a :class:`~.clock.ManualClock` (for tests
        of the daily and weekly resets, ``sentAt`` and ``since``).
    :param ssl_context: serve HTTPS with this server-side context (tests of TLS verification).
    :param weekly_connect_limit: connection requests per account per week (Monday 00:00 UTC)
        before ``/linkedin/connect`` answers 429.
    :param connected: profile ids or URNs already connected to every account (nobody otherwise).
    :param thread_in_send_answers: add ``conversationUrn`` and ``threadId`` to the answers of
        ``/linkedin/messaging/send`` and ``send-with-typing``. Off by default: the documented
        API returns neither, and a client should not come to rely on them.
    :param rate_limit: requests per window for the API key, e.g. 60 (the documented rate);
        past it a request answers 429. None (default): no request rate. See :mod:`.rate_limit`.
    :param rate_window: the request window's length in seconds (default 60).
    :param rate_reset_format: ``iso`` (default) or ``unix``: how the window's
        ``X-RateLimit-Reset`` is written.
    """

    def __init__(
        self,
        api_key: str = "emulator-key",
        host: str = "127.0.0.1",
        port: int = 0,
        daily_limit: int = 150,
        accounts: Sequence[str] | None = None,
        *,
        verbose: bool = False,
        clock: Clock | None = None,
        ssl_context: ssl.SSLContext | None = None,
        weekly_connect_limit: int = DEFAULT_WEEKLY_LIMIT,
        connected: Iterable[str] = (),
        thread_in_send_answers: bool = False,
        rate_limit: int | None = None,
        rate_window: float = DEFAULT_WINDOW,
        rate_reset_format: str = "iso",
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.verbose = verbose
        self.ssl_context = ssl_context
        self.state = EmulatorState(
            api_key,
            accounts,
            daily_limit,
            clock or utc_now,
            weekly_connect_limit=weekly_connect_limit,
            connected=connected,
            thread_in_send_answers=thread_in_send_answers,
            rate_limit=rate_limit,
            rate_window=rate_window,
            rate_reset_format=rate_reset_format,
        )
        self._requested_port = port
        self._httpd: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port once started, else the requested one."""
        return self._httpd.server_port if self._httpd else self._requested_port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (only meaningful once started)."""
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> EmulatorServer:
        """Bind and serve in a daemon thread; returns ``self``."""
        if self._httpd is not None:
            raise RuntimeError("emulator already started")
        self._httpd = EmulatorHTTPServer((self.host, self._requested_port), self.state, self.verbose)
        if self.ssl_context is not None:
            # The handshake runs on accept; a client that rejects the certificate never gets
            # as far as sending a request, so nothing is recorded for it.
            self._httpd.socket = self.ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="connectsafely-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket and open connections."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self if self._httpd is not None else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def messages(self) -> list[dict[str, Any]]:
        """Delivered messages, oldest first."""
        return self.state.messages()

    def requests(self) -> list[dict[str, Any]]:
        """Every ``/linkedin/*`` request recorded, oldest first."""
        return self.state.requests()

    def request_counts(self) -> dict[str, int]:
        """Requests per ``"METHOD /path/template"``, as ``GET /_emulator/counts``."""
        return self.state.request_counts()

    def rate_limit(self) -> dict[str, Any]:
        """The request window and how many requests it refused, as ``GET /_emulator/rate-limit``."""
        return self.state.rate_limit()

    def conversations(self) -> list[dict[str, Any]]:
        """Every conversation with its ``messages`` (oldest first), in order of creation."""
        return self.state.conversations.snapshot()

    def reply(
        self,
        profile_id: str | None = None,
        text: str | None = None,
        at: datetime | str | None = None,
        account_id: str | None = None,
        conversation_urn: str | None = None,
    ) -> dict[str, Any]:
        """Make the other person write in a conversation, as ``POST /_emulator/reply`` does.

        :param profile_id: the person; their conversation with the account is created if missing.
        :param text: the message text.
        :param at: when it was sent (datetime or ISO 8601); default: the clock's now.
        :param account_id: the account (default: the default account; with ``conversation_urn``,
            only checked against the conversation's).
        :param conversation_urn: an existing conversation, instead of ``profile_id``.
        :returns: the new message (``isSentByOwner`` false).
        :raises ValueError: missing text or recipient, invalid ``at``.
        :raises LookupError: unknown account or conversation.
        """
        return control.reply(
            self.state,
            text=text,
            profile_id=profile_id,
            conversation_urn=conversation_urn,
            at=at,
            account_id=account_id,
        )

    def set_account_status(self, account_id: str, status: str) -> None:
        """Set an account's status, as ``POST /_emulator/account`` does; ``ERROR`` makes its
        sends and connection requests answer 403."""
        self.state.set_status(account_id, status)

    def accept_invitation(self, profile_id: str, account_id: str | None = None) -> dict[str, Any]:
        """Make a profile accept the account's pending invitation, as ``POST /_emulator/accept``.

        :returns: the invitation, now ``accepted``.
        :raises LookupError: unknown account or no pending invitation.
        """
        return control.accept(self.state, profile_id, account_id)

    def reset(self) -> None:
        """Clear records, counts, messages, quota counts, the request window, queued faults,
        conversations and invitations."""
        self.state.reset()

    def inject(
        self, fault: str, *, count: int = 1, match: dict[str, Any] | None = None, **params: Any
    ) -> dict[str, Any]:
        """Queue a fault, as ``POST /_emulator/faults`` does; returns its JSON form.

        :raises FaultError: unknown fault or invalid parameter.
        """
        queued = build_fault(fault, params, count, match)
        self.state.queue_fault(queued)
        return queued.to_dict()

    def faults(self) -> list[dict[str, Any]]:
        """The queued faults."""
        return self.state.pending_faults()

    def clear_faults(self) -> int:
        """Drop queued faults; returns how many were dropped."""
        return self.state.clear_faults()


def create_server(
    api_key: str = "emulator-key",
    host: str = "127.0.0.1",
    port: int = 0,
    daily_limit: int = 150,
    accounts: Sequence[str] | None = None,
    *,
    verbose: bool = False,
    clock: Clock | None = None,
    weekly_connect_limit: int = DEFAULT_WEEKLY_LIMIT,
    connected: Iterable[str] = (),
    thread_in_send_answers: bool = False,
    rate_limit: int | None = None,
    rate_window: float = DEFAULT_WINDOW,
    rate_reset_format: str = "iso",
) -> EmulatorServer:
    """Return an unstarted :class:`EmulatorServer` (see its parameters)."""
    return EmulatorServer(
        api_key,
        host,
        port,
        daily_limit,
        accounts,
        verbose=verbose,
        clock=clock,
        weekly_connect_limit=weekly_connect_limit,
        connected=connected,
        thread_in_send_answers=thread_in_send_answers,
        rate_limit=rate_limit,
        rate_window=rate_window,
        rate_reset_format=rate_reset_format,
    )


__all__ = ["EmulatorServer", "create_server"]
