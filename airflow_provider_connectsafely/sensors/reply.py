"""Wait for the other person to answer in a LinkedIn conversation.

Only Airflow's task SDK is imported at module level: DAG files import this on every parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_connectsafely import defaults

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook


class LinkedInReplySensor(BaseSensorOperator):
    """Succeed with the first reply in a LinkedIn conversation; the reply is the return value
    (XCom): a dict with ``messageUrn``, ``text``, ``sentAt``, ``senderProfileId`` and
    ``conversationUrn``.

    Deferrable by default: the wait runs in the triggerer
    (:class:`~airflow_provider_connectsafely.triggers.replies.LinkedInReplyTrigger`), so no
    worker slot is held while the person takes days to answer. A 429 (``holdUntil``) is
    waited out until its reset instead of failing, in both modes.

    ``since`` defaults to the start of the DAG run: stable across retries, reschedules and
    deferrals, it counts a reply that arrives between an upstream send and this sensor's
    start, and ignores anything written before the run. For an exact start, template it,
    e.g. from the send's answer: ``"{{ ti.xcom_pull('send')['sentMessage']['sentAt'] }}"``.

    :param conversation_urn: the conversation to watch (templated), e.g.
        ``"{{ ti.xcom_pull('send')['conversationUrn'] }}"``.
    :param since: only messages sent after this moment count (templated; ISO 8601 or
        datetime). Default: the DAG run's start (see above).
    :param account_id: the LinkedIn account (templated); the connection's default when None.
    :param connectsafely_conn_id: the ConnectSafely Airflow connection (templated).
    :param poke_interval: seconds (or timedelta) between polls.
    :param timeout: seconds (or timedelta) to wait before failing, or skipping with
        ``soft_fail=True``. The trigger enforces it itself, so it also holds in ``dag.test()``.
    :param deferrable: wait in the triggerer (True) or poke from a worker (False).
    """

    template_fields: Sequence[str] = ("conversation_urn", "since", "account_id", "connectsafely_conn_id")
    ui_color = "#cfe3f7"

    def __init__(
        self,
        *,
        conversation_urn: str,
        since: datetime | str | None = None,
        account_id: str | None = None,
        connectsafely_conn_id: str = defaults.CONN_ID,
        poke_interval: timedelta | float = 300,
        timeout: timedelta | float = timedelta(days=7),
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.conversation_urn = conversation_urn
        self.since = since
        self.account_id = account_id
        self.connectsafely_conn_id = connectsafely_conn_id
        self.deferrable = deferrable
        self._hold_until: datetime | None = None

    @cached_property
    def hook(self) -> ConnectSafelyHook:
        from airflow_provider_connectsafely.triggers.polling import read_hook

        return read_hook(self.connectsafely_conn_id)

    def _since(self, context: Context) -> datetime:
        from airflow_provider_connectsafely.triggers.polling import parse_time

        if self.since:
            return parse_time(self.since)
        for started in (
            getattr(context.get("dag_run"), "start_date", None),
            getattr(context.get("ti"), "start_date", None),
        ):
            if started is not None:
                return parse_time(started)
        return datetime.now(timezone.utc)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_connectsafely.triggers.replies import LinkedInReplyTrigger

        since = self._since(context)
        deadline = datetime.now(timezone.utc) + timedelta(seconds=self.timeout)
        self.log.info("Waiting in the triggerer for a reply in %s after %s", self.conversation_urn, since)
        self.defer(
            trigger=LinkedInReplyTrigger(
                conversation_urn=self.conversation_urn,
                since=since,
                account_id=self.account_id,
                conn_id=self.connectsafely_conn_id,
                poke_interval=self.poke_interval,
                deadline=deadline,
            ),
            method_name="execute_complete",
            # A little later than the trigger's own deadline, so its timeout event wins.
            timeout=timedelta(seconds=self.timeout + max(60.0, self.poke_interval)),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume from the trigger: return the reply, or raise for a timeout or an error
        (``soft_fail`` turns either into a skip, as for any sensor)."""
        from airflow_provider_connectsafely.compat import AirflowException

        status = (event or {}).get("status")
        if status == "success":
            reply = event["reply"]  # type: ignore[index]
            self.log.info("Reply %s: %r", reply.get("messageUrn"), reply.get("text"))
            return reply
        if status == "timeout":
            raise _sensor_timeout(
                f"No reply in {self.conversation_urn} after {event['since']} "  # type: ignore[index]
                f"before {event['deadline']}"  # type: ignore[index]
            )
        detail = (event or {}).get("message") or f"unexpected trigger event {event!r}"
        raise AirflowException(f"Stopped waiting for a reply in {self.conversation_urn}: {detail}")

    def poke(self, context: Context) -> bool | PokeReturnValue:
        from airflow_provider_connectsafely.api.errors import ConnectSafelyError
        from airflow_provider_connectsafely.compat import AirflowException
        from airflow_provider_connectsafely.triggers.polling import retry_delay

        now = datetime.now(timezone.utc)
        if self._hold_until is not None and now < self._hold_until:
            self.log.info("Rate limited until %s; not polling yet", self._hold_until.isoformat())
            return False
        try:
            replies = self.hook.find_replies(
                self.conversation_urn, since=self._since(context), account_id=self.account_id
            )
        except ConnectSafelyError as exc:
            wait = retry_delay(exc, 0.0, now)
            if wait is None:
                raise AirflowException(f"{type(exc).__name__}: {exc.message}") from exc
            self._hold_until = now + timedelta(seconds=wait)
            self.log.warning("Polling failed (%s); next poll after %s", exc, self._hold_until.isoformat())
            return False
        if not replies:
            return False
        self.log.info("Reply %s: %r", replies[0].get("messageUrn"), replies[0].get("text"))
        return PokeReturnValue(is_done=True, xcom_value=replies[0])


def _sensor_timeout(message: str) -> Exception:
    from airflow_provider_connectsafely.compat import AirflowSensorTimeout

    return AirflowSensorTimeout(message)
