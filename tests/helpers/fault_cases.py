"""The fault matrix as a table: one row per fault, with the outcome the provider must reach.

Shared by ``tests/integration/test_fault_matrix.py`` (which checks every row through the hook, and through
the operator in a real Airflow task) and ``tests/integration/dags/connectsafely_test_fault_matrix.py``
(one task per row). Each row sends to its own recipient, so the emulator's record can be
split by recipient and the faults can be queued up front with ``match``.

Columns, expected through the hook (one ``send_message`` call, in-process retries included):

- ``error``: the error class raised, or None for a success.
- ``requests``: how many requests reached the emulator (1 means not retried in-process).
- ``delivered``: how many messages the emulator delivered to the recipient (0 or 1).
- ``words``: text the error message must contain: the server's own words and the hint.
- ``waits``: the in-process waits, each as a ``(low, high)`` range of seconds.
- ``verdict`` (derived): what the provider claims: ``sent``, ``not_sent`` (the error says the
  API provably did not send it) or ``unknown``.

and through the operator in a task with ``retries=1`` (``airflow``; None means "the same as
through the hook, in one try"): the final task state, the number of tries, requests and
deliveries over all tries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_connectsafely import errors

# Connections the rows use (the test sets them; the DAG names them).
EMULATOR = "emulator"  # the emulator, with the right key and a short read timeout
BAD_KEY = "bad_key"  # the emulator, with a wrong key
CLOSED = "closed"  # a loopback port nobody listens on
CONN_IDS = {
    EMULATOR: "cs_fault_matrix",
    BAD_KEY: "cs_fault_matrix_bad_key",
    CLOSED: "cs_fault_matrix_closed",
    "ledger": "cs_fault_matrix_ledger",  # the send ledger of the matrix DAG (a SQLite file)
}
# Read timeout of the matrix connections (hook and DAG); the slow rows answer later than this.
READ_TIMEOUT = 1.0
SLOW = 3.0
# In a fault's ``message``, replaced by the API key: a server that echoes the key back.
KEY = "{key}"


@dataclass(frozen=True)
class Run:
    """The outcome through the operator in a task with ``retries=1`` (all tries together)."""

    state: str
    tries: int
    requests: int
    delivered: int


@dataclass(frozen=True)
class Case:
    """One row of the fault matrix (see the module docstring for the columns)."""

    id: str
    fault: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    count: int = 1
    conn: str = EMULATOR
    recipient: str = ""
    error: type[errors.ConnectSafelyError] | None = None
    requests: int = 1
    delivered: int = 0
    words: tuple[str, ...] = ()
    waits: tuple[tuple[float, float], ...] = ()
    airflow: Run | None = None
    #: The send ledger's final state after the task (``sent`` / ``failed`` / ``unknown``);
    #: None derives it from the outcome (see :attr:`ledger_state`).
    ledger: str | None = None

    @property
    def to(self) -> str:
        """The recipient's profile ID: unique per row."""
        return self.recipient or "fm-" + self.id.replace("_", "-").lower()

    @property
    def ledger_state(self) -> str:
        """What the ledger must say once the task is done: ``sent`` when it succeeded, else
        ``unknown`` for an outcome nobody can know, else ``failed`` (provably not sent)."""
        if self.ledger is not None:
            return self.ledger
        if self.task.state == "success":
            return "sent"
        return "unknown" if self.verdict == "unknown" else "failed"

    @property
    def verdict(self) -> str:
        if self.error is None:
            return "sent"
        return "unknown" if self.error.delivered is None else "not_sent"

    @property
    def task(self) -> Run:
        if self.airflow is not None:
            return self.airflow
        return Run("success" if self.error is None else "failed", 1, self.requests, self.delivered)

    def fault_params(self, api_key: str) -> dict[str, Any]:
        return {k: v.replace(KEY, api_key) if isinstance(v, str) else v for k, v in self.params.items()}


def about(seconds: float) -> tuple[float, float]:
    return (seconds, seconds)


def _status_rows() -> list[Case]:
    """500/502/503/504, each with a JSON, an HTML and an empty body."""
    rows = []
    for status in (500, 502, 504):
        for shape, deliver in (("code", True), ("html", False), ("empty", True)):
            words = {
                "code": (f"server fell over {status} (internal_error)",),
                "html": ("an HTML page",),
                "empty": ("(empty body)",),
            }[shape]
            rows.append(
                Case(
                    f"{status}_{shape}",
                    "error",
                    {
                        "status": status,
                        "shape": shape,
                        "message": f"server fell over {status}",
                        "deliver": deliver,
                    },
                    error=errors.DeliveryUnknownError,
                    delivered=int(deliver),
                    words=(str(status), *words, "may or may not have been delivered"),
                )
            )
    # A CDN's own 5xx (Cloudflare 524: the origin took the request, then timed out).
    rows.append(
        Case(
            "524_html",
            "error",
            {"status": 524, "shape": "html", "deliver": True},
            error=errors.DeliveryUnknownError,
            delivered=1,
            words=("524", "an HTML page", "may or may not have been delivered"),
        )
    )
    for shape, words in (
        ("error", "Service down for maintenance"),
        ("html", "an HTML page"),
        ("empty", "(empty body)"),
    ):
        rows.append(
            Case(
                f"503_{shape}",
                "error",
                {"status": 503, "shape": shape, "message": "Service down for maintenance"},
                error=errors.ServiceUnavailableError,
                words=("503", words, "try again later"),
                airflow=Run("success", tries=2, requests=2, delivered=1),
            )
        )
    return rows


_RATE = ("429", "Rate limit exceeded")

CASES: tuple[Case, ...] = (
    # --- successes -------------------------------------------------------------------------
    Case("plain_send", delivered=1),
    Case("slow_within_timeout", "slow", {"delay": 0.2}, delivered=1),
    # --- 429: waited out in-process when the reset is near ------------------------------------
    Case(
        "429_retry_after",
        "rate_limit_retry_after",
        {"seconds": 2},
        requests=2,
        delivered=1,
        waits=(about(2),),
    ),
    Case(
        "429_reset_iso", "rate_limit_reset_iso", {"seconds": 2}, requests=2, delivered=1, waits=((0.9, 2.05),)
    ),
    Case(
        "429_reset_unix",
        "rate_limit_reset_unix",
        {"seconds": 2},
        requests=2,
        delivered=1,
        waits=((1.9, 3.05),),
    ),
    Case(
        "429_reset_unix_millis",
        "rate_limit_reset_unix",
        {"seconds": 2, "millis": True},
        requests=2,
        delivered=1,
        waits=((1.9, 2.05),),
    ),
    Case(
        "429_hold_until",
        "rate_limit_hold_until",
        {"seconds": 2},
        requests=2,
        delivered=1,
        waits=((0.9, 2.05),),
    ),
    Case(
        "429_no_reset",
        "error",
        {"status": 429, "shape": "error", "message": "Slow down"},
        requests=2,
        delivered=1,
        waits=(about(5),),
    ),
    Case(
        "429_reset_not_a_time",
        "rate_limit_retry_after",
        {"value": "soon"},
        requests=2,
        delivered=1,
        waits=(about(5),),
    ),
    Case(
        "429_reset_nan", "rate_limit_reset_unix", {"value": "nan"}, requests=2, delivered=1, waits=(about(5),)
    ),
    Case(
        "429_reset_huge",
        "rate_limit_reset_unix",
        {"value": "1e300"},
        requests=2,
        delivered=1,
        waits=(about(5),),
    ),
    # --- 429: raised when it persists or the reset is far; Airflow's retry sends it later -----
    Case(
        "429_persistent",
        "rate_limit_retry_after",
        {"seconds": 1},
        count=4,
        error=errors.RateLimitError,
        requests=4,
        waits=(about(1),) * 3,
        words=(*_RATE, "resets at"),
        airflow=Run("success", tries=2, requests=5, delivered=1),
    ),
    Case(
        "429_far_reset",
        "rate_limit_hold_until",
        {"seconds": 7200},
        error=errors.RateLimitError,
        words=(*_RATE, "resets at"),
        airflow=Run("success", tries=2, requests=2, delivered=1),
    ),
    # --- 400 in every documented body shape --------------------------------------------------
    Case(
        "400_code",
        "error",
        {"status": 400, "shape": "code", "message": "fm: body rejected"},
        error=errors.BadRequestError,
        words=("400", "fm: body rejected (validation_error)", "Check the message fields"),
    ),
    Case(
        "400_error",
        "error",
        {"status": 400, "shape": "error", "message": "fm: plain error"},
        error=errors.BadRequestError,
        words=("400", "fm: plain error"),
    ),
    Case(
        "400_error_success_false",
        "error",
        {"status": 400, "shape": "error_success_false", "message": "fm: success false"},
        error=errors.BadRequestError,
        words=("400", "fm: success false"),
    ),
    Case(
        "400_zod",
        "error",
        {"status": 400, "shape": "zod", "message": "fm: Required"},
        error=errors.BadRequestError,
        words=("400", "message: fm: Required"),
    ),
    Case(
        "400_error_details",
        "error",
        {"status": 400, "shape": "error_details", "message": "fm: details"},
        error=errors.BadRequestError,
        words=("400", "fm: details"),
    ),
    # --- 401, 403, 404 ------------------------------------------------------------------------
    Case(
        "401",
        "error",
        {"status": 401, "shape": "error_success_false", "message": "Invalid or missing API key"},
        error=errors.AuthenticationError,
        words=("401", "Invalid or missing API key", "Check the API key"),
    ),
    Case(
        "401_wrong_key",
        conn=BAD_KEY,
        error=errors.AuthenticationError,
        words=("401", "Invalid or missing API key", "Check the API key"),
    ),
    Case(
        "403",
        "error",
        {"status": 403, "shape": "code", "message": "Trial expired"},
        error=errors.PermissionDeniedError,
        words=("403", "Trial expired (forbidden)", "subscription"),
    ),
    Case(
        "404",
        "error",
        {"status": 404, "shape": "error_details", "message": "Conversation not found"},
        error=errors.NotFoundError,
        words=("404", "Conversation not found", "Check the recipient"),
    ),
    Case(
        "404_unknown_recipient",
        recipient="unknown-fm-person",
        error=errors.NotFoundError,
        words=("404", "Recipient profile not found"),
    ),
    # --- 5xx with JSON, HTML and empty bodies ---------------------------------------------------
    *_status_rows(),
    # --- the transport --------------------------------------------------------------------------
    Case(
        "read_timeout_delivered",
        "slow",
        {"delay": SLOW},
        error=errors.DeliveryUnknownError,
        delivered=1,
        words=("read timeout", "may or may not have been delivered"),
    ),
    Case(
        "read_timeout_not_delivered",
        "slow",
        {"delay": SLOW, "deliver": False},
        error=errors.DeliveryUnknownError,
        words=("read timeout",),
    ),
    Case(
        "reset_before_body",
        "reset_before_body",
        error=errors.DeliveryUnknownError,
        words=("connection", "broke", "may or may not have been delivered"),
    ),
    Case(
        "reset_after_body",
        "reset_after_body",
        error=errors.DeliveryUnknownError,
        delivered=1,
        words=("connection", "broke"),
    ),
    Case(
        "reset_after_body_not_delivered",
        "reset_after_body",
        {"deliver": False},
        error=errors.DeliveryUnknownError,
        words=("connection", "broke"),
    ),
    Case(
        "truncated_body",
        "truncated_body",
        error=errors.DeliveryUnknownError,
        delivered=1,
        words=("cut off", "may or may not have been delivered"),
    ),
    Case(
        "bad_encoding",
        "bad_encoding",
        error=errors.DeliveryUnknownError,
        delivered=1,
        words=("unreadable", "ContentDecodingError"),
    ),
    Case(
        "malformed_json",
        "malformed_json",
        error=errors.DeliveryUnknownError,
        delivered=1,
        words=("200", "not JSON"),
    ),
    Case(
        "success_false",
        "success_false",
        error=errors.SendRejectedError,
        words=("200", "LinkedIn rejected the message", "did not send"),
    ),
    Case(
        "redirect",
        "redirect",
        {"status": 307},
        error=errors.UnexpectedRedirectError,
        words=("307", "api.connectsafely.invalid", "not followed"),
    ),
    Case(
        "connection_refused",
        conn=CLOSED,
        error=errors.ConnectionFailedError,
        requests=0,
        waits=((0, 0.5), (0, 1), (0, 2)),
        words=("Could not connect", "nothing was sent"),
        airflow=Run("failed", tries=2, requests=0, delivered=0),
    ),
    # --- a hostile server that echoes the key back ----------------------------------------------
    Case(
        "400_echoes_key",
        "error",
        {"status": 400, "shape": "error", "message": f"key {KEY} may not send this"},
        error=errors.BadRequestError,
        words=("key *** may not send this",),
    ),
    Case(
        "429_echoes_key",
        "error",
        {"status": 429, "shape": "error", "message": f"key {KEY} is over quota"},
        count=4,
        error=errors.RateLimitError,
        requests=4,
        waits=(about(5),) * 3,
        words=("key *** is over quota",),
        airflow=Run("success", tries=2, requests=5, delivered=1),
    ),
    Case(
        "502_echoes_key",
        "error",
        {"status": 502, "shape": "zod", "message": f"upstream refused {KEY}"},
        error=errors.DeliveryUnknownError,
        words=("upstream refused ***",),
    ),
)

BY_ID = {case.id: case for case in CASES}
assert len(BY_ID) == len(CASES), "case ids must be unique"
assert len({case.to for case in CASES}) == len(CASES), "recipients must be unique"
