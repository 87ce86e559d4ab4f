"""The fault catalogue: named misbehaviours a test can queue for the next ``/linkedin/*`` request(s).

Queue one with ``POST /_emulator/faults`` (or ``EmulatorServer.inject``), or trigger it for a
single request with the header ``X-Emulator-Fault: NAME`` plus ``X-Emulator-Fault-<Param>``
headers. Faults only fire on authorized ``/linkedin/*`` requests; a 401 never consumes one.

"Delivered" means the emulator records the message as sent to the person (it shows up in
``messages()`` and counts against the daily quota). A delivering fault first handles the
request normally, so it delivers only if that normal handling would have (a body that fails
validation is still not delivered), then replaces or delays the answer.

``rate_limit_retry_after`` (``seconds``, default 2; ``value``)
    429 with ``Retry-After: <seconds>``. Not delivered.
``rate_limit_reset_iso`` (``seconds``, default 2; ``value``)
    429 with ``X-RateLimit-Reset`` set to an ISO 8601 time that far ahead. Not delivered.
``rate_limit_reset_unix`` (``seconds``, default 2; ``millis``, default false; ``value``)
    429 with ``X-RateLimit-Reset`` set to that time as Unix epoch seconds (milliseconds with
    ``millis=true``). Not delivered.
``rate_limit_hold_until`` (``seconds``, default 2; ``value``)
    429 whose body carries ``holdUntil``, an ISO 8601 time that far ahead. Not delivered.
    Each rate-limit fault sends only its own signal, so a client's handling of each is tested alone.
    A non-empty ``value`` is sent verbatim instead of the computed time (``"soon"``, ``"nan"``,
    ``"1e20"``...), to test how a client copes with a reset it cannot parse.
``error`` (``status`` default 500, ``shape`` default ``error_success_false``, ``message``,
``deliver`` default false)
    An error answer in one body shape: ``code`` ``{"success": false, "code": ..., "message": ...}``,
    ``error`` ``{"error": ...}``, ``error_success_false`` ``{"success": false, "error": ...}``,
    ``zod`` (the ZodError shape), ``error_details`` ``{"errorDetails": {"message": ...}}``,
    ``html`` (a proxy's HTML page) or ``empty`` (no body). Delivered only with ``deliver=true``,
    which simulates a server that sent the message and then failed (500/502/504 after sending).
``slow`` (``delay`` default 2, ``deliver`` default true)
    Handles the request normally, records it, then waits ``delay`` seconds before answering, so a
    client with a shorter read timeout times out although the message was delivered. With
    ``deliver=false`` the request is not handled and the late answer is a 504.
``reset_before_body``
    TCP reset (SO_LINGER 0, then close) before the body is read: no answer, status ``None``.
    Not delivered. (With ``match`` the body must be read to test the match; the reset follows it.)
``reset_after_body`` (``deliver`` default true)
    Reads the body, handles it normally when ``deliver`` is true, then resets the connection
    without answering. Delivered when ``deliver`` is true.
``malformed_json``
    200 with ``Content-Type: application/json`` and a truncated, invalid JSON body. Delivered.
``success_false``
    200 with ``{"success": false, "error": "LinkedIn rejected the message"}``. Not delivered.
``truncated_body``
    Handles the request normally, then sends the status line and headers of the normal answer
    (``Content-Length`` of the whole body) but only half of its body, and closes the connection:
    an answer cut off mid-body by a crashing server or proxy. Delivered (if the request is valid).
``bad_encoding``
    Handles the request normally, then answers with ``Content-Encoding: gzip`` and a body that is
    not gzip, so the client cannot decode the answer. Delivered (if the request is valid).
``redirect`` (``status`` default 307, ``location``)
    A 3xx with ``Location: <location>`` and an empty body. The default location is on
    ``api.connectsafely.invalid``, a host that never resolves; point ``location`` at another host
    or port to check that a client neither follows it nor sends its key there. Not delivered.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

from .clock import iso_z
from .replies import Outcome, Reply, error_reply, json_reply

Process = Callable[[], Outcome]
ERROR_SHAPES = ("code", "error", "error_success_false", "zod", "error_details", "html", "empty")
HEADER = "X-Emulator-Fault"
_ERROR_CODES = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    429: "rate_limited",
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class FaultError(ValueError):
    """An unknown fault name or an invalid fault parameter."""


@dataclass(frozen=True)
class Param:
    """One fault parameter.

    :param kind: ``int``, ``float``, ``bool`` or ``str``.
    :param default: value when the parameter is not given.
    :param low: smallest accepted number, if any.
    :param high: largest accepted number, if any.
    :param choices: accepted strings, if restricted.
    """

    kind: type
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaultSpec:
    """A catalogue entry: the parameters of a fault and how it is applied."""

    name: str
    params: Mapping[str, Param]
    apply: Callable[[Mapping[str, Any], Process, datetime], Outcome]


@dataclass
class Fault:
    """A fault ready to fire.

    :param name: catalogue name.
    :param params: parameters, defaults filled in.
    :param count: how many more matching requests it applies to.
    :param match: body fields a send request must carry for the fault to apply (empty: any request).
    """

    name: str
    params: dict[str, Any]
    count: int = 1
    match: dict[str, Any] = field(default_factory=dict)

    def applies_to(self, *, is_send: bool, body: object) -> bool:
        """Whether the fault fires for a request to a send endpoint (or not) with this body."""
        if not self.match:
            return True
        if not is_send or not isinstance(body, dict):
            return False
        return all(key in body and body[key] == value for key, value in self.match.items())

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as listed by ``GET /_emulator/faults``."""
        return {
            "fault": self.name,
            "count": self.count,
            "match": dict(self.match),
            "params": dict(self.params),
        }


def _rate_limited(headers: dict[str, str], extra: Mapping[str, Any] | None = None) -> Reply:
    body = {"success": False, "error": "Rate limit exceeded. Please retry later.", **(extra or {})}
    return json_reply(429, body, headers)


def _retry_after(params: Mapping[str, Any], _process: Process, _now: datetime) -> Outcome:
    return Outcome(_rate_limited({"Retry-After": params["value"] or str(params["seconds"])}))


def _reset_iso(params: Mapping[str, Any], _process: Process, now: datetime) -> Outcome:
    at = params["value"] or iso_z(now + timedelta(seconds=params["seconds"]))
    return Outcome(_rate_limited({"X-RateLimit-Reset": at}))


def _reset_unix(params: Mapping[str, Any], _process: Process, now: datetime) -> Outcome:
    epoch = now.timestamp() + params["seconds"]
    stamp = str(math.ceil(epoch * 1000 if params["millis"] else epoch))
    return Outcome(_rate_limited({"X-RateLimit-Reset": params["value"] or stamp}))


def _hold_until(params: Mapping[str, Any], _process: Process, now: datetime) -> Outcome:
    at = params["value"] or iso_z(now + timedelta(seconds=params["seconds"]))
    return Outcome(_rate_limited({}, {"holdUntil": at, "error": f"Rate limit exceeded. Resets at {at}"}))


def shaped_error(status: int, shape: str, message: str = "") -> Reply:
    """Build an error answer of ``status`` in one of :data:`ERROR_SHAPES`."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    text = message or phrase
    if shape == "html":
        title = f"{status} {phrase}"
        page = (
            f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
            "<hr><center>nginx</center></body></html>\n"
        )
        return Reply(status, page.encode(), "text/html")
    if shape == "empty":
        return Reply(status, b"", None)
    if shape == "code":
        code = _ERROR_CODES.get(status, "internal_error")
        return json_reply(status, {"success": False, "code": code, "message": text})
    if shape == "error":
        return json_reply(status, {"error": text})
    if shape == "zod":
        issue = {
            "code": "invalid_type",
            "expected": "string",
            "received": "undefined",
            "path": ["message"],
            "message": message or "Required",
        }
        return json_reply(status, {"success": False, "error": {"name": "ZodError", "issues": [issue]}})
    if shape == "error_details":
        return json_reply(status, {"errorDetails": {"message": text}})
    return error_reply(status, text)


def _error(params: Mapping[str, Any], process: Process, _now: datetime) -> Outcome:
    delivered = process().message if params["deliver"] else None
    return Outcome(shaped_error(params["status"], params["shape"], params["message"]), delivered)


def _slow(params: Mapping[str, Any], process: Process, _now: datetime) -> Outcome:
    if params["deliver"]:
        outcome = process()
        return Outcome(outcome.reply, outcome.message, params["delay"])
    return Outcome(error_reply(504, "Gateway Timeout"), None, params["delay"])


def _reset_before_body(_params: Mapping[str, Any], _process: Process, _now: datetime) -> Outcome:
    return Outcome(None)


def _reset_after_body(params: Mapping[str, Any], process: Process, _now: datetime) -> Outcome:
    return Outcome(None, process().message if params["deliver"] else None)


def _malformed_json(_params: Mapping[str, Any], process: Process, _now: datetime) -> Outcome:
    return Outcome(Reply(200, b'{"success": true, "message": "Message sent succ'), process().message)


def _success_false(_params: Mapping[str, Any], _process: Process, _now: datetime) -> Outcome:
    return Outcome(error_reply(200, "LinkedIn rejected the message"))


def _truncated_body(_params: Mapping[str, Any], process: Process, _now: datetime) -> Outcome:
    outcome = process()
    return Outcome(outcome.reply, outcome.message, cut=True)


def _bad_encoding(_params: Mapping[str, Any], process: Process, _now: datetime) -> Outcome:
    outcome = process()
    reply = outcome.reply or json_reply(200, {})
    headers = {**reply.headers, "Content-Encoding": "gzip"}
    return Outcome(Reply(reply.status, reply.body, reply.content_type, headers), outcome.message)


def _redirect(params: Mapping[str, Any], _process: Process, _now: datetime) -> Outcome:
    return Outcome(Reply(params["status"], b"", None, {"Location": params["location"]}))


DEFAULT_REDIRECT_LOCATION = "https://api.connectsafely.invalid/linkedin/messaging/send"
_SECONDS = {"seconds": Param(int, 2), "value": Param(str, "")}
CATALOGUE: dict[str, FaultSpec] = {
    spec.name: spec
    for spec in (
        FaultSpec("rate_limit_retry_after", {**_SECONDS, "seconds": Param(int, 2, low=0)}, _retry_after),
        FaultSpec("rate_limit_reset_iso", _SECONDS, _reset_iso),
        FaultSpec("rate_limit_reset_unix", {**_SECONDS, "millis": Param(bool, False)}, _reset_unix),
        FaultSpec("rate_limit_hold_until", _SECONDS, _hold_until),
        FaultSpec(
            "error",
            {
                "status": Param(int, 500, low=400, high=599),
                "shape": Param(str, "error_success_false", choices=ERROR_SHAPES),
                "message": Param(str, ""),
                "deliver": Param(bool, False),
            },
            _error,
        ),
        FaultSpec("slow", {"delay": Param(float, 2.0, low=0, high=300), "deliver": Param(bool, True)}, _slow),
        FaultSpec("reset_before_body", {}, _reset_before_body),
        FaultSpec("reset_after_body", {"deliver": Param(bool, True)}, _reset_after_body),
        FaultSpec("malformed_json", {}, _malformed_json),
        FaultSpec("success_false", {}, _success_false),
        FaultSpec("truncated_body", {}, _truncated_body),
        FaultSpec("bad_encoding", {}, _bad_encoding),
        FaultSpec(
            "redirect",
            {
                "status": Param(int, 307, low=300, high=399),
                "location": Param(str, DEFAULT_REDIRECT_LOCATION),
            },
            _redirect,
        ),
    )
}


def _coerce(name: str, raw: object, param: Param) -> Any:
    value: Any = None
    if param.kind is bool:
        if isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
            value = raw.strip().lower() in _TRUE
    elif param.kind in (int, float) and not isinstance(raw, bool):
        try:
            value = param.kind(raw) if isinstance(raw, int | float | str) else None
        except ValueError:
            value = None
        if isinstance(value, float) and not math.isfinite(value):
            value = None
    elif param.kind is str and isinstance(raw, str):
        value = raw
    if value is None:
        raise FaultError(f"parameter {name!r} must be a {param.kind.__name__}")
    if param.choices and value not in param.choices:
        raise FaultError(f"parameter {name!r} must be one of {', '.join(param.choices)}")
    if (param.low is not None and value < param.low) or (param.high is not None and value > param.high):
        raise FaultError(f"parameter {name!r} must be between {param.low} and {param.high}")
    return value


def build_fault(
    name: object, params: Mapping[str, object] | None = None, count: object = 1, match: object = None
) -> Fault:
    """Validate a fault request and return the :class:`Fault`.

    :param name: catalogue name.
    :param params: parameter values (strings are converted, as they come from headers).
    :param count: number of matching requests it applies to (at least 1).
    :param match: optional ``{body field: value}`` restricting it to matching send requests.
    :raises FaultError: unknown name, unknown parameter or invalid value.
    """
    spec = CATALOGUE.get(name) if isinstance(name, str) else None
    if spec is None:
        raise FaultError(f"unknown fault {name!r}; known: {', '.join(CATALOGUE)}")
    given = dict(params or {})
    unknown = sorted(set(given) - set(spec.params))
    if unknown:
        raise FaultError(f"fault {spec.name!r} takes no parameter {', '.join(unknown)}")
    values = {k: _coerce(k, given[k], p) if k in given else p.default for k, p in spec.params.items()}
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise FaultError("count must be an integer >= 1")
    if match is not None and not (isinstance(match, dict) and all(isinstance(k, str) for k in match)):
        raise FaultError("match must be an object of body fields")
    return Fault(spec.name, values, count, dict(match or {}))


def fault_from_request(body: object) -> Fault:
    """Build a fault from a ``POST /_emulator/faults`` body.

    The body is ``{"fault": NAME, "count": 1, "match": {...}, PARAM: VALUE, ...}``; parameters
    may also be nested under ``"params"``.
    """
    if not isinstance(body, dict):
        raise FaultError("body must be a JSON object with a 'fault' name")
    rest = {k: v for k, v in body.items() if k not in ("fault", "count", "match", "params")}
    nested = body.get("params") or {}
    if not isinstance(nested, dict):
        raise FaultError("params must be an object")
    return build_fault(body.get("fault"), {**nested, **rest}, body.get("count", 1), body.get("match"))


def fault_from_headers(headers: Iterable[tuple[str, str]]) -> Fault | None:
    """Build the one-off fault named by ``X-Emulator-Fault`` (params from ``X-Emulator-Fault-<Param>``)."""
    name: str | None = None
    params: dict[str, object] = {}
    prefix = HEADER.lower() + "-"
    for key, value in headers:
        lowered = key.lower()
        if lowered == HEADER.lower():
            name = value.strip()
        elif lowered.startswith(prefix):
            params[lowered[len(prefix) :]] = value.strip()
    return None if name is None else build_fault(name, params)


def apply_fault(fault: Fault, process: Process, now: datetime) -> Outcome:
    """Apply ``fault``; ``process`` handles the request normally (called only by delivering faults)."""
    return CATALOGUE[fault.name].apply(fault.params, process, now)
