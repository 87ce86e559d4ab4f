"""The HTTP layer: a threading ``http.server`` and the request handler that records, applies faults
and answers."""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import socketserver
import struct
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn, cast
from urllib.parse import parse_qsl, urlsplit

from . import control
from .api import SEND_PATHS, LinkedInApi
from .faults import Fault, FaultError, apply_fault, fault_from_headers
from .replies import Outcome, Reply, error_reply, json_reply
from .state import EmulatorState

MAX_BODY_BYTES = 1_000_000


class _ConnectionGone(Exception):
    """The client (or a fault) closed the connection; nothing more can be sent."""


def _parse_body(raw: bytes) -> object:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP server bound to one :class:`EmulatorState`.

    :param address: ``(host, port)`` to bind.
    :param state: the shared state.
    :param verbose: log requests and handler errors to stderr.
    """

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], state: EmulatorState, verbose: bool) -> None:
        self.state = state
        self.api = LinkedInApi(state)
        self.verbose = verbose
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), which can stall on hosts without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down keep-alive connections still open, so their threads end."""
        with self._open_lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


# Plain http.server, not an ASGI framework: faults need the raw socket (RST via SO_LINGER 0).
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ConnectSafelyEmulator/1.0"
    timeout = 120
    disable_nagle_algorithm = True  # headers and body are separate writes

    @property
    def _emu(self) -> EmulatorHTTPServer:
        return cast(EmulatorHTTPServer, self.server)

    def log_message(self, format: str, *args: Any) -> None:
        if self._emu.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        path = url.path
        try:
            if path == "/linkedin" or path.startswith("/linkedin/"):
                self._linkedin(path, dict(parse_qsl(url.query, keep_blank_values=True)))
            elif path == "/_emulator" or path.startswith("/_emulator/"):
                self._admin(path, _parse_body(self._read_body()))
            else:
                self._read_body()
                if path == "/health":
                    self._send(json_reply(200, {"status": "ok"}))
                elif not self._emu.state.is_authorized(self.headers.get("Authorization")):
                    self._send(_unauthorized())
                else:
                    self._send(error_reply(404, f"Route {self.command} {path} not found"))
        except _ConnectionGone:
            self.close_connection = True
        except Exception as exc:  # answer 500 instead of dropping the connection
            self.log_error("emulator error: %r", exc)
            self.close_connection = True
            with contextlib.suppress(_ConnectionGone):
                self._send(error_reply(500, "Emulator internal error"))

    def _linkedin(self, path: str, query: dict[str, str]) -> None:
        state = self._emu.state
        authorized = state.is_authorized(self.headers.get("Authorization"))
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        handle = state.open_record(self.command, path, query, headers, authorized)
        is_send = path in SEND_PATHS
        raw: bytes | None = None
        fault: Fault | None = None
        admission = state.admit() if authorized else None
        if admission is not None and not admission.allowed:
            # Refused before anything else: no fault is used up, nothing is delivered.
            state.set_body(handle, _parse_body(self._read_body()))
            state.close_record(handle, 429, None, None)
            self._send(admission.refusal(state.now()))
            return
        rate_headers = {} if admission is None else admission.headers()
        if authorized:
            try:
                fault = fault_from_headers(self.headers.items())
            except FaultError as exc:
                state.set_body(handle, _parse_body(self._read_body()))
                state.close_record(handle, 400, None, None)
                payload = {"success": False, "code": "emulator_fault_error", "message": str(exc)}
                self._send(json_reply(400, payload, rate_headers))
                return
            if fault is None:
                if state.fault_needs_body(is_send=is_send):
                    raw = self._read_body()
                fault = state.take_fault(is_send=is_send, body=None if raw is None else _parse_body(raw))
        if fault is not None and fault.name == "reset_before_body" and raw is None:
            state.close_record(handle, None, fault.name, None)
            self._reset()
        body = _parse_body(self._read_body() if raw is None else raw)
        state.set_body(handle, body)
        if not authorized:
            outcome = Outcome(_unauthorized())
        else:
            process = functools.partial(self._emu.api.handle, self.command, path, query, body)
            outcome = process() if fault is None else apply_fault(fault, process, state.now())
        status = None if outcome.reply is None else outcome.reply.status
        state.close_record(handle, status, None if fault is None else fault.name, outcome.message)
        if outcome.delay:
            time.sleep(outcome.delay)
        if outcome.reply is None:
            self._reset()
        elif fault is None and rate_headers:
            # The request window's headers win over a quota's (see .rate_limit).
            self._send(replace(outcome.reply, headers={**outcome.reply.headers, **rate_headers}))
        else:
            self._send(outcome.reply, cut=outcome.cut)

    def _admin(self, path: str, body: object) -> None:
        self._send(control.handle(self._emu.state, self.command, path, body))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(error_reply(413 if length > 0 else 400, "Invalid or too large request body"))
            raise _ConnectionGone
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
            if sum(map(len, chunks)) > MAX_BODY_BYTES:
                raise _ConnectionGone

    def _send(self, reply: Reply, *, cut: bool = False) -> None:
        """Write ``reply``; with ``cut``, only half its body, then close (a normal FIN, so the
        client reliably reads the headers and then finds the body short)."""
        if cut:
            self.close_connection = True
        try:
            self.send_response(reply.status)
            if reply.content_type:
                self.send_header("Content-Type", reply.content_type)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply.body[: len(reply.body) // 2] if cut else reply.body)
        except OSError as exc:
            raise _ConnectionGone from exc

    def _reset(self) -> NoReturn:
        """Abort the connection with a TCP RST instead of a normal close, then stop handling."""
        self.close_connection = True
        self.rfile.close()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        raise _ConnectionGone


def _unauthorized() -> Reply:
    return error_reply(401, "Invalid or missing API key", {"WWW-Authenticate": "Bearer"})
