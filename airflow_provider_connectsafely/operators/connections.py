"""The operator that sends LinkedIn connection requests through ConnectSafely.

Only Airflow's task SDK is imported at module level: DAG files import this on every parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.operators.base import (
    TEMPLATE_FILES,
    ConnectSafelyBaseOperator,
    run_ids,
    to_airflow_error,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_connectsafely.api.connect import ConnectRequest
    from airflow_provider_connectsafely.ledger.records import NewSend
    from airflow_provider_connectsafely.outreach.outcomes import Outcome

__all__ = ["SendLinkedInConnectionRequestOperator"]

#: Base parameters that concern messages only: refused here rather than silently ignored.
_MESSAGE_ONLY = {
    "daily_limit": "connection requests have a weekly cap: use weekly_limit",
    "message_type": "a connection request has no message type: drop it",
    "message_limits": "the note's limit is LinkedIn's 300 characters: drop it",
}


class SendLinkedInConnectionRequestOperator(ConnectSafelyBaseOperator):
    """Send one LinkedIn connection request (``POST /linkedin/connect``) and push the API's
    JSON answer to XCom.

    Every text parameter is templated; ``note`` may also name a template file (``.txt``,
    ``.j2``, ``.md``). Arguments are validated after rendering and before any request; bad
    input (such as a note over 300 characters) fails the task at once, without retries.

    With ``skip_if_connected`` (the default) the relationship is read first: a person already
    connected, already invited by this account, or who has invited this account gets no
    request; the task succeeds and returns the relationship, and nothing is recorded in the
    ledger. Otherwise the request is claimed in the send ledger under its dedupe key, so it
    goes out at most once per key, and counts against the account's weekly cap.

    :param recipient_profile_id: the person's profile ID, or profile URL
        (``https://www.linkedin.com/in/john-doe-123/`` is sent as ``john-doe-123``).
    :param recipient_profile_urn: the person's URN (``urn:li:fsd_profile:...``); give exactly
        one of the two recipient parameters.
    :param note: the invitation's note (``customMessage``), at most 300 characters (an emoji
        counts 2); none when None or blank.
    :param account_id: the LinkedIn account that invites; the connection's ``account_id``
        extra, else the API's default account, when None.
    :param skip_if_connected: read the relationship first and skip people already connected
        or invited (either way).
    :param weekly_limit: connection requests per LinkedIn account per week, the week starting
        Monday 00:00 UTC, counted in the ledger (default 90, ConnectSafely's documented
        limit; 0 for no cap).
    :param dedupe_key: the request's identity in the ledger (templated). Default:
        ``connect:<account>:<person>``, so each account invites each person once, across
        all runs and DAGs.
    :param connectsafely_conn_id: the ConnectSafely connection.
    :param ledger_conn_id: database connection of the send ledger; else the ConnectSafely
        connection's ``ledger_conn_id`` extra; else a SQLite file under ``$AIRFLOW_HOME``.
    :param use_ledger: False sends with no ledger: no dedupe and no weekly cap.
    :param on_unknown: when an earlier attempt with this key may or may not have gone out:
        ``fail`` (default), ``skip`` or ``resend`` (may invite twice).
    :param on_limit: when the weekly cap is reached or the API puts requests on hold (429)
        past ``max_rate_limit_wait``: ``defer`` (default) until it resets, ``skip`` or ``fail``.
    :param max_defer: longest total time the task may spend deferred (default 8 days and an
        hour: a weekly reset is up to 7 days away, a hold lasts 24 hours).
    :param max_rate_limit_wait: longest 429 wait (seconds) to sit out inside the task.
    :param send_window: when the request may go out, e.g. ``"Mon-Fri 09:00-17:30"``
        (templated); outside it the task waits as ``on_limit`` says.
    :param timezone: the IANA time zone the window is read in (templated; UTC).
    """

    template_fields: Sequence[str] = (
        "note",
        "recipient_profile_id",
        "recipient_profile_urn",
        "account_id",
        "connectsafely_conn_id",
        "dedupe_key",
        "ledger_conn_id",
        "send_window",
        "timezone",
    )
    template_ext: Sequence[str] = TEMPLATE_FILES
    template_fields_renderers = {"note": "md"}
    ui_color = "#e3f1e8"

    def __init__(
        self,
        *,
        recipient_profile_id: str | None = None,
        recipient_profile_urn: str | None = None,
        note: str | None = None,
        skip_if_connected: bool = True,
        weekly_limit: int | None = defaults.WEEKLY_CONNECT_LIMIT,
        dedupe_key: str | None = None,
        max_defer: timedelta | float = defaults.CONNECT_MAX_DEFER,
        **kwargs: Any,
    ) -> None:
        for name, fix in _MESSAGE_ONLY.items():
            if name in kwargs:
                raise ValueError(f"{type(self).__name__} takes no {name}: {fix}")
        super().__init__(max_defer=max_defer, **kwargs)
        if weekly_limit is not None and (
            isinstance(weekly_limit, bool) or not isinstance(weekly_limit, int) or weekly_limit < 0
        ):
            raise ValueError(f"weekly_limit must be a whole number >= 0 (0: no cap), got {weekly_limit!r}")
        if not isinstance(skip_if_connected, bool):
            raise ValueError(f"skip_if_connected must be True or False, got {skip_if_connected!r}")
        self.recipient_profile_id = recipient_profile_id
        self.recipient_profile_urn = recipient_profile_urn
        self.note = note
        self.skip_if_connected = skip_if_connected
        self.weekly_limit = weekly_limit
        self.dedupe_key = dedupe_key

    def _run(self, context: Context, deferred_since: str | None) -> dict[str, Any] | None:
        from airflow_provider_connectsafely.errors import ConnectSafelyError
        from airflow_provider_connectsafely.outreach.connections import ConnectSender

        try:
            request = self.hook.build_connect_request(
                recipient_profile_id=self.recipient_profile_id,
                recipient_profile_urn=self.recipient_profile_urn,
                note=self.note,
                account_id=self.account_id,
            )
            request = request.with_default_account(self.hook.settings.account_id)
            ledger = self._ledger()
            windows = self._windows(ledger)
            sender = ConnectSender(
                self.hook.send_connect_request,
                ledger,
                weekly_limit=self.weekly_limit,
                relationship=self.hook.get_relationship if self.skip_if_connected else None,
                on_unknown=self.on_unknown,
                gate=None if windows is None else lambda: windows.check(windows.timezone),
            )
            spec = self._spec(context, request) if ledger is not None else None
            outcome = self._send_once(sender, request, spec, deferred_since)
        except ConnectSafelyError as exc:
            raise to_airflow_error(exc) from exc
        self._outcome = outcome  # the row of a campaign asset event (base._announce)
        return self._result(outcome)

    def _spec(self, context: Context, request: ConnectRequest) -> NewSend:
        from airflow_provider_connectsafely.ledger.records import CONNECT, NewSend
        from airflow_provider_connectsafely.outreach.connections import connect_account, connect_key

        ids = run_ids(context)
        return NewSend(
            dedupe_key=(self.dedupe_key or "").strip() or connect_key(request),
            account=connect_account(request),
            recipient=request.recipient,
            dag_id=ids[0] if ids else None,
            task_id=ids[1] if ids else None,
            run_id=ids[2] if ids else None,
            map_index=ids[3] if ids else None,
            kind=CONNECT,
        )

    def _result(self, outcome: Outcome) -> dict[str, Any] | None:
        from airflow_provider_connectsafely.outreach import outcomes

        if outcome.status == outcomes.SENT:
            answer = outcome.response or {}
            self.log.info(
                "Connection request sent to %s (invitation %s, %s)",
                outcome.recipient,
                answer.get("invitationId", "no id"),
                answer.get("profileUrn", "no URN"),
            )
            return answer
        # A skip returns the answer recorded when it was sent, or the relationship that made
        # the request needless.
        return self._not_sent_now(outcome, "No connection request to")
