"""Wait for the other person to answer in a LinkedIn conversation.

Only Airflow's task SDK and its configuration (already loaded with it) are imported at module
level: DAG files import this on every parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.operators.links import ConnectSafelyLedgerLink

try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow 3.1: the Task SDK has no configuration module yet
    from airflow.configuration import conf

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook


class LinkedInReplySensor(BaseSensorOperator):
    """Succeed with the first reply in a LinkedIn conversation; the reply is the return value
    (XCom): a dict with ``messageUrn``, ``text``, ``sentAt``, ``senderProfileId`` and
    ``conversationUrn``.

    When deferrable (see ``deferrable``), the wait runs in the triggerer
    (:class:`~airflow_provider_connectsafely.triggers.replies.LinkedInReplyTrigger`), so no
    worker slot is held while the person takes days to answer. It checks once in the worker
    first: a reply already there succeeds at once, without a trigger. A 429 (``holdUntil``)
    is waited out until its reset instead of failing, in both modes.

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
    :param opt_out: whether a reply that asks to stop puts its sender on the ledger's
        do-not-contact list everywhere (on the worker, after the wait): True (the default
        phrases), False, a list of phrases (instead of them), an ``OptOutDetector`` or a
        callable taking the reply's text.
    :param deferrable: wait in the triggerer (True) or poke from a worker (False). Default:
        Airflow's ``[operators] default_deferrable``, read when the sensor is built (Airflow
        ships it ``false``; True when the option is missing altogether).
    """

    template_fields: Sequence[str] = ("conversation_urn", "since", "account_id", "connectsafely_conn_id")
    #: A "ConnectSafely ledger" button on each task instance: the ledger page, this run's sends.
    operator_extra_links = (ConnectSafelyLedgerLink(),)
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
        deferrable: bool | None = None,
        opt_out: Any = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.conversation_urn = conversation_urn
        self.since = since
        self.account_id = account_id
        self.connectsafely_conn_id = connectsafely_conn_id
        if deferrable is None:
            deferrable = conf.getboolean("operators", "default_deferrable", fallback=True)
        self.deferrable = deferrable
        self._hold_until: datetime | None = None
        from airflow_provider_connectsafely.outreach.opt_out import detector

        self.opt_out = opt_out
        self._opt_out = detector(opt_out)  # a bad setting fails here, before any request

    @cached_property
    def hook(self) -> ConnectSafelyHook:
        from airflow_provider_connectsafely.triggers.polling import read_hook

        return read_hook(self.connectsafely_conn_id)

    def _since(self, context: Context) -> datetime:
        from airflow_provider_connectsafely.clock import parse_utc

        if self.since:
            return parse_utc(self.since)
        for started in (
            getattr(context.get("dag_run"), "start_date", None),
            getattr(context.get("ti"), "start_date", None),
        ):
            if started is not None:
                return parse_utc(started)
        return datetime.now(timezone.utc)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_connectsafely.compat import AirflowException, AirflowSkipException
        from airflow_provider_connectsafely.triggers.replies import LinkedInReplyTrigger

        since = self._since(context)
        deadline = datetime.now(timezone.utc) + timedelta(seconds=self.timeout)
        try:
            reply = self._find_reply(since)
        except AirflowException as exc:
            # As when the trigger reports the error: soft_fail and never_fail skip.
            if self.soft_fail or self.never_fail:
                raise AirflowSkipException(f"Skipping: {exc}") from exc
            raise
        if reply is not None:
            return self._respect(reply)
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
            return self._respect(reply)
        if status == "timeout":
            raise _sensor_timeout(
                f"No reply in {self.conversation_urn} after {event['since']} "  # type: ignore[index]
                f"before {event['deadline']}"  # type: ignore[index]
            )
        detail = (event or {}).get("message") or f"unexpected trigger event {event!r}"
        raise AirflowException(f"Stopped waiting for a reply in {self.conversation_urn}: {detail}")

    def poke(self, context: Context) -> bool | PokeReturnValue:
        reply = self._find_reply(self._since(context))
        return False if reply is None else PokeReturnValue(is_done=True, xcom_value=self._respect(reply))

    def _respect(self, reply: dict[str, Any]) -> dict[str, Any]:
        """A reply that asks to stop puts its sender on the do-not-contact list everywhere
        (source ``reply``) and comes back with ``optOut: true``."""
        found = self._opt_out
        person = reply.get("senderProfileId") or reply.get("senderProfileUrn")
        if found is None or not person or not found(reply.get("text")):
            return reply
        from airflow_provider_connectsafely.ledger import locate
        from airflow_provider_connectsafely.outreach.opt_out import suppress_if_opted_out

        ledger = locate.open_ledger(locate.locate(connectsafely_conn_id=self.connectsafely_conn_id), self.log)
        suppress_if_opted_out(ledger, found, str(person), reply.get("text"))
        self.log.info("The reply opts out: %s is on the do-not-contact list everywhere now", person)
        return {**reply, "optOut": True}

    def _find_reply(self, since: datetime) -> dict[str, Any] | None:
        """Poll once: the first reply after ``since``, or None (none yet, or a failure that
        may pass; after a 429 no request is made until its reset).

        :raises AirflowException: a failure that waiting cannot cure (bad key, unknown
            conversation...).
        """
        from airflow_provider_connectsafely.compat import AirflowException
        from airflow_provider_connectsafely.errors import ConnectSafelyError
        from airflow_provider_connectsafely.triggers.polling import retry_delay

        now = datetime.now(timezone.utc)
        if self._hold_until is not None and now < self._hold_until:
            self.log.info("Rate limited until %s; not polling yet", self._hold_until.isoformat())
            return None
        try:
            replies = self.hook.find_replies(self.conversation_urn, since=since, account_id=self.account_id)
        except ConnectSafelyError as exc:
            wait = retry_delay(exc, 0.0, now)
            if wait is None:
                raise AirflowException(f"{type(exc).__name__}: {exc.message}") from exc
            self._hold_until = now + timedelta(seconds=wait)
            self.log.warning("Polling failed (%s); next poll after %s", exc, self._hold_until.isoformat())
            return None
        if not replies:
            return None
        self.log.info("Reply %s: %r", replies[0].get("messageUrn"), replies[0].get("text"))
        return replies[0]


def _sensor_timeout(message: str) -> Exception:
    from airflow_provider_connectsafely.compat import AirflowSensorTimeout

    return AirflowSensorTimeout(message)
