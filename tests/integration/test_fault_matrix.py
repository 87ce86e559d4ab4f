"""The fault matrix: every fault of the emulator, through the hook and through a real task.

The rows live in ``tests/helpers/fault_cases.py``. Each row is checked twice against the emulator's
own record (what reached it, what it delivered):

- through the hook: one ``send_message`` per row, in-process retries with a fake sleep;
- through the operator: one ``dag.test()`` run of ``connectsafely_test_fault_matrix`` (one task
  per row, ``retries=1``), checking each task's final state, its tries and the error text the
  task log shows.

Then invariants over the whole matrix: no message delivered twice, every send ends in a known
outcome, no retry (in-process or by Airflow) follows a delivery-unknown outcome, and an error
that says "not delivered" is never wrong. Last, a property test feeds arbitrary answers (any
status, headers, body) to the response parser: each maps to a known outcome.
"""

from __future__ import annotations

import json
import re
import socket
import tempfile
import time
import types
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers.connections import API_KEY, connection_json
from helpers.dag_runs import load_dag, rendered_fields, task_results
from helpers.fault_cases import BAD_KEY, CASES, CLOSED, CONN_IDS, EMULATOR, READ_TIMEOUT, Case
from helpers.task_logs import by_task, captured_task_logs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_connectsafely import compat, errors
from airflow_provider_connectsafely.api import client as client_module
from airflow_provider_connectsafely.api import responses
from airflow_provider_connectsafely.api.retry import RetryPolicy
from airflow_provider_connectsafely.emulator import EmulatorServer
from airflow_provider_connectsafely.emulator.faults import CATALOGUE, ERROR_SHAPES
from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook
from airflow_provider_connectsafely.ledger.store import SendLedger

IDS = [case.id for case in CASES]
# The outcomes a send may end in: success, or one of these typed errors.
KNOWN_ERRORS = (
    errors.ConnectSafelyAPIError,  # any other 4xx (405, 409, 422...)
    errors.ConnectSafelyConfigError,
    errors.BadRequestError,
    errors.AuthenticationError,
    errors.PermissionDeniedError,
    errors.NotFoundError,
    errors.UnexpectedRedirectError,
    errors.ServiceUnavailableError,
    errors.SendRejectedError,
    errors.RateLimitError,
    errors.ConnectionFailedError,
    errors.DeliveryUnknownError,
)


def free_port() -> int:
    """A loopback port nobody listens on (closed again at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def set_connections(
    patch: pytest.MonkeyPatch, emulator: EmulatorServer, closed_port: int, ledger_file: Path | None = None
) -> None:
    urls = {EMULATOR: emulator.url, BAD_KEY: emulator.url, CLOSED: f"http://127.0.0.1:{closed_port}"}
    if ledger_file is not None:
        ledger_conn = json.dumps({"conn_type": "sqlite", "host": str(ledger_file)})
        patch.setenv(f"AIRFLOW_CONN_{CONN_IDS['ledger'].upper()}", ledger_conn)
    for kind, conn_id in CONN_IDS.items():
        if kind == "ledger":
            continue
        key = "wrong-key-for-the-matrix" if kind == BAD_KEY else API_KEY
        conn = connection_json(urls[kind], key=key, timeout=READ_TIMEOUT)
        patch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn)


def recipient_of(record: dict[str, Any]) -> str | None:
    body = record.get("body")
    return body.get("recipientProfileId") if isinstance(body, dict) else None


def leaves_outcome_unknown(record: dict[str, Any]) -> bool:
    """Whether the client could not learn from this answer if the message went out."""
    return (
        record["status"] is None
        or (record["status"] >= 500 and record["status"] != 503)
        or record["fault"] in ("malformed_json", "truncated_body")
        or (record["fault"] == "slow" and record["status"] != 200)
    )


def exception_texts(exc: BaseException | None) -> Iterator[str]:
    """str and repr of an exception and of everything chained to it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield str(exc)
        yield repr(exc)
        exc = exc.__cause__ or exc.__context__


# --- the catalogue is covered -------------------------------------------------------------


def test_every_emulator_fault_and_documented_answer_has_a_row():
    faults = {case.fault for case in CASES if case.fault}
    assert set(CATALOGUE) <= faults, f"faults without a matrix row: {set(CATALOGUE) - faults}"

    def shapes(status: int) -> set[str]:
        return {
            c.params.get("shape", "") for c in CASES if c.fault == "error" and c.params["status"] == status
        }

    assert shapes(400) >= {"code", "error", "error_success_false", "zod", "error_details"}
    for status in (500, 502, 503, 504):
        assert {"html", "empty"} <= shapes(status), status
        assert shapes(status) & {"code", "error", "error_success_false", "zod", "error_details"}, status
    assert all(shapes(status) for status in (401, 403, 404))
    assert set(ERROR_SHAPES) <= {c.params.get("shape") for c in CASES if c.fault == "error"}
    rate_limit = {c.fault for c in CASES if c.fault and c.fault.startswith("rate_limit")}
    assert rate_limit == {f for f in CATALOGUE if f.startswith("rate_limit")}
    assert {BAD_KEY, CLOSED} <= {case.conn for case in CASES}


def test_redirect_and_truncated_body_faults(emulator):
    """The two faults added for this matrix, at the HTTP level."""
    target = "http://127.0.0.1:9/elsewhere"
    emulator.inject("redirect", status=308, location=target)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    url = emulator.url + "/linkedin/messaging/send"
    body = {"recipientProfileId": "r", "message": "m"}
    answer = requests.post(url, json=body, headers=headers, timeout=5, allow_redirects=False)
    assert (answer.status_code, answer.headers["Location"]) == (308, target)

    emulator.inject("truncated_body")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.post(url, json=body, headers=headers, timeout=5)
    assert [(r["status"], r["fault"], r["delivered"]) for r in emulator.requests()] == [
        (308, "redirect", False),
        (200, "truncated_body", True),
    ]
    assert len(emulator.messages()) == 1


# --- through the hook ---------------------------------------------------------------------


@dataclass
class HookResult:
    error: BaseException | None
    answer: dict[str, Any] | None
    records: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    waits: list[float]
    pending_faults: list[dict[str, Any]]


@dataclass
class HookMatrix:
    rows: dict[str, HookResult] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


@pytest.fixture(scope="module")
def hook_matrix(emulator_server: EmulatorServer) -> Iterator[HookMatrix]:
    """Every row once, in order, on one emulator; the fault is queued just before its row."""
    emulator = emulator_server
    emulator.reset()
    matrix = HookMatrix()
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        set_connections(patch, emulator, free_port())
        for case in CASES:
            mark = len(emulator.requests())
            if case.fault:
                emulator.inject(case.fault, count=case.count, **case.fault_params(API_KEY))
            hook = ConnectSafelyHook(CONN_IDS[case.conn])
            waits: list[float] = []
            hook.client._sleep = waits.append
            error, answer = None, None
            try:
                answer = hook.send_message(
                    message=f"Fault matrix row {case.id}", recipient_profile_id=case.to
                )
            except Exception as exc:
                error = exc
            finally:
                if "client" in hook.__dict__:
                    hook.client.close()
            delivered = [m for m in emulator.messages() if m["recipientProfileId"] == case.to]
            matrix.rows[case.id] = HookResult(
                error, answer, emulator.requests()[mark:], delivered, waits, emulator.faults()
            )
            emulator.clear_faults()
    matrix.seconds = time.monotonic() - started
    matrix.records, matrix.messages = emulator.requests(), emulator.messages()
    emulator.reset()
    yield matrix


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_hook_row(case: Case, hook_matrix: HookMatrix):
    result = hook_matrix.rows[case.id]
    if case.error is None:
        assert result.error is None, f"expected success, got {result.error!r}"
        assert result.answer is not None and result.answer["success"] is True
    else:
        assert type(result.error) is case.error, f"expected {case.error.__name__}, got {result.error!r}"
        text = str(result.error)
        for words in case.words:
            assert words in text, f"{words!r} not in the error text {text!r}"
        assert not re.search(r"(?<!\.)\.\.(?!\.)", text), f"stray '..' in {text!r}"
    assert len(result.records) == case.requests, [(r["status"], r["fault"]) for r in result.records]
    assert len(result.messages) == case.delivered
    assert result.pending_faults == [], "the row's fault did not fire"
    assert len(result.waits) == len(case.waits), result.waits
    for wait, (low, high) in zip(result.waits, case.waits, strict=True):
        assert low - 0.05 <= wait <= high + 0.05, (result.waits, case.waits)
    for text in exception_texts(result.error):
        assert API_KEY not in text


def test_hook_matrix_invariants(hook_matrix: HookMatrix):
    rows = hook_matrix.rows
    # No message delivered twice.
    twice = {
        who: n for who, n in Counter(m["recipientProfileId"] for m in hook_matrix.messages).items() if n > 1
    }
    assert twice == {}
    # Every send ends in a known outcome, and the emulator answered or reset every request.
    for case in CASES:
        error = rows[case.id].error
        assert error is None or type(error) in KNOWN_ERRORS, f"{case.id}: {error!r}"
    assert all(r["status"] is not None or r["fault"] for r in hook_matrix.records)
    # No retry follows a delivery-unknown outcome: such a request is its row's last.
    for case in CASES:
        records = rows[case.id].records
        for record in records[:-1]:
            assert not leaves_outcome_unknown(record), (case.id, record)
        if isinstance(rows[case.id].error, errors.DeliveryUnknownError):
            assert len(records) == 1, case.id
    # What the error claims agrees with the emulator's truth.
    for case in CASES:
        result = rows[case.id]
        claim = getattr(result.error, "delivered", True)
        if claim is False:
            assert result.messages == [], f"{case.id}: said 'not delivered' but it was"
        if result.error is None:
            assert len(result.messages) == 1, case.id
        # And the retry policy agrees: nothing of unknown outcome is retried.
        if claim is None:
            assert RetryPolicy().delay(result.error, 1) is None


# --- through the operator in a real task ------------------------------------------------------


@dataclass
class AirflowMatrix:
    tries: dict[str, tuple[str, int]]
    results: dict[tuple[str, int], tuple[str, object]]
    rendered: dict[tuple[str, int], dict]
    records: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    pending_faults: list[dict[str, Any]]
    logs: dict[str, str]
    output: str
    sleeps: list[float]
    seconds: float
    ledger: dict[str, str]


def run_matrix_dag(emulator: EmulatorServer) -> AirflowMatrix:
    emulator.reset()
    for case in CASES:
        if case.fault:
            match = {"recipientProfileId": case.to}
            emulator.inject(case.fault, count=case.count, match=match, **case.fault_params(API_KEY))
    sleeps: list[float] = []
    ledger_file = Path(tempfile.mkdtemp(prefix="fault-matrix-ledger-")) / "ledger.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        set_connections(patch, emulator, free_port(), ledger_file)
        # In-process waits (429) are recorded instead of slept; tasks run in this process.
        patch.setattr(client_module, "time", types.SimpleNamespace(sleep=sleeps.append))
        started = time.monotonic()
        with captured_task_logs() as lines:
            run = load_dag("connectsafely_test_fault_matrix").test()
        seconds = time.monotonic() - started
    output = "\n".join(lines)
    matrix = AirflowMatrix(
        tries={ti.task_id: (str(ti.state), ti.try_number) for ti in run.get_task_instances()},
        results=task_results(run),
        rendered=rendered_fields(run),
        records=emulator.requests(),
        messages=emulator.messages(),
        pending_faults=emulator.faults(),
        logs=by_task(lines),
        output=output,
        sleeps=sleeps,
        seconds=seconds,
        ledger=_ledger_states(ledger_file),
    )
    emulator.reset()
    return matrix


def _ledger_states(path: Path) -> dict[str, str]:
    """The ledger's final state per recipient, after the matrix run."""
    from airflow_provider_connectsafely.ledger.schema import sends

    store = SendLedger.sqlite(path)
    try:
        store.ensure_schema()
        with store.engine.connect() as conn:
            rows = conn.execute(sends.select()).mappings().all()
    finally:
        store.close()
    return {row["recipient"]: row["state"] for row in rows}


@pytest.fixture(scope="module")
def airflow_matrix(emulator_server: EmulatorServer, airflow_db) -> AirflowMatrix:
    """One ``dag.test()`` run of the whole matrix for the module."""
    return run_matrix_dag(emulator_server)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_operator_row(case: Case, airflow_matrix: AirflowMatrix):
    expected = case.task
    assert airflow_matrix.tries[case.id] == (expected.state, expected.tries)
    records = [r for r in airflow_matrix.records if recipient_of(r) == case.to]
    assert len(records) == expected.requests, [(r["status"], r["fault"]) for r in records]
    delivered = [m for m in airflow_matrix.messages if m["recipientProfileId"] == case.to]
    assert len(delivered) == expected.delivered
    log = airflow_matrix.logs[case.id]
    _, answer = airflow_matrix.results[(case.id, -1)]
    if expected.state == "success":
        assert isinstance(answer, dict) and answer["success"] is True
    else:
        assert answer is None
    if case.error is not None:
        # What the user reads in the task log: the Airflow exception, then the server's words.
        kind = compat.AirflowException if case.error.retryable else compat.AirflowFailException
        airflow_error = f"{kind.__module__}.{kind.__qualname__}"  # its module differs in 3.1
        assert f"{airflow_error}: {case.error.__name__}: " in log
        for words in case.words:
            assert words in log, f"{words!r} not in the task log of {case.id}"
    assert API_KEY not in log
    # What the send ledger recorded: every send ends sent, failed or unknown, never pending.
    assert airflow_matrix.ledger.get(case.to) == case.ledger_state


def test_operator_matrix_invariants(airflow_matrix: AirflowMatrix):
    # The run happened in this process, with no real waits, and every queued fault fired.
    assert airflow_matrix.sleeps, "the 429 rows should have waited in-process"
    assert airflow_matrix.pending_faults == []
    # No message delivered twice, even with Airflow retries.
    counts = Counter(m["recipientProfileId"] for m in airflow_matrix.messages)
    assert {who: n for who, n in counts.items() if n > 1} == {}
    # Every task ends in a known final state; none is left to retry or running.
    assert {state for state, _ in airflow_matrix.tries.values()} <= {"success", "failed"}
    assert set(airflow_matrix.tries) == set(IDS)
    # No request (Airflow retry included) follows a delivery-unknown one for the same person.
    for case in CASES:
        records = [r for r in airflow_matrix.records if recipient_of(r) == case.to]
        for record in records[:-1]:
            assert not leaves_outcome_unknown(record), (case.id, record)
    # The key is nowhere but in the Authorization header.
    assert API_KEY not in airflow_matrix.output
    assert API_KEY not in repr(airflow_matrix.results)
    assert API_KEY not in repr(airflow_matrix.rendered)
    assert API_KEY not in json.dumps(airflow_matrix.records)


# --- any answer maps to a known outcome ---------------------------------------------------------

_TIME_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["nan", "inf", "-inf", "1e300", "-1", "0", "1e12", "1700000000000", "2", "Z", ""]),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.just("Wed, 21 Oct 2015 07:28:00 GMT"),
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_VALUE = st.one_of(_JSON, st.just(API_KEY), st.just(f"key {API_KEY} leaked"), _TIME_TEXT)
_BODY_OBJECT = st.fixed_dictionaries(
    {},
    optional={
        "success": st.booleans() | _JSON,
        "error": _VALUE
        | st.fixed_dictionaries(
            {"name": st.just("ZodError")},
            optional={
                "issues": st.lists(
                    st.fixed_dictionaries({}, optional={"path": _JSON, "message": _VALUE}) | _JSON,
                    max_size=3,
                )
                | _JSON,
                "message": _VALUE,
            },
        ),
        "message": _VALUE,
        "code": _VALUE,
        "errorDetails": st.fixed_dictionaries({}, optional={"message": _VALUE}) | _JSON,
        "holdUntil": _VALUE,
        "recipientProfileUrn": _VALUE,
    },
)
_BODY = st.one_of(
    _BODY_OBJECT.map(lambda body: json.dumps(body).encode()),
    _JSON.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
    st.text(max_size=64).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.just(b"<html><body>502 Bad Gateway</body></html>"),
    st.just(f"plain text with the key {API_KEY}".encode()),
)
_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Retry-After": _TIME_TEXT,
        "X-RateLimit-Reset": _TIME_TEXT,
        "Content-Type": st.sampled_from(["application/json", "text/html", "text/plain; charset=utf-8"]),
        "Location": st.text(max_size=20) | st.just(f"https://elsewhere.example/?key={API_KEY}"),
    },
)


def fake_response(status: int, headers: dict[str, str], body: bytes) -> requests.Response:
    from requests.structures import CaseInsensitiveDict

    response = requests.Response()
    response.status_code = status
    response.headers = CaseInsensitiveDict(headers)
    response._content = body
    response.encoding = requests.utils.get_encoding_from_headers(response.headers) or "utf-8"
    response.url = "https://api.connectsafely.ai/linkedin/messaging/send"
    return response


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.integers(100, 999) | st.sampled_from([200, 201, 204, 301, 307, 400, 429, 500, 503, 524]),
    headers=_HEADERS,
    body=_BODY,
)
def test_any_answer_maps_to_a_known_outcome(status: int, headers: dict[str, str], body: bytes):
    """Whatever the server (or a proxy) answers, the result is an answer dict or a typed error
    saying whether the message may have gone out, and the key never shows."""
    response = fake_response(status, headers, body)
    now = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    if 200 <= status < 300:
        try:
            answer = responses.success_body(response, redact=API_KEY)
        except (errors.DeliveryUnknownError, errors.SendRejectedError) as exc:
            error: errors.ConnectSafelyError = exc
        else:
            assert isinstance(answer, dict) and answer.get("success") is not False
            return
    else:
        error = responses.error_for(response, now, redact=API_KEY)
    assert type(error) in KNOWN_ERRORS
    assert API_KEY not in str(error)
    assert len(str(error)) < 2000
    # Only answers that prove nothing was sent say so; everything else is "unknown".
    provably_not_sent = 300 <= status < 500 or status == 503 or isinstance(error, errors.SendRejectedError)
    assert (error.delivered is False) == provably_not_sent, (status, type(error).__name__)
    # The retry policy copes with every error, and never waits past the cap.
    wait = RetryPolicy.default(max_rate_limit_wait=60).delay(error, 1)
    assert wait is None or 0 <= wait <= 60
    if isinstance(error, errors.RateLimitError) and error.retry_after is not None:
        assert error.retry_after >= 0 and error.reset_at is not None
