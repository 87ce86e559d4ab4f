"""A minimal HTTP/1.1 keep-alive server on loopback, for measuring client overhead.

It answers every ``POST`` with one fixed ``200`` JSON body (the ConnectSafely send answer's
shape) and does nothing else: no validation, no auth check, no state beyond counters. It is
*not* the emulator (which validates, records and applies quotas); a benchmark against it
measures what the client spends per request, not what a server spends.

Nagle is off on accepted sockets (``disable_nagle_algorithm``), the answer goes out in one
``write``, and each connection gets a thread, so keep-alive clients and clients that open a
new connection per request are both served.

``GET /_stats`` answers ``{"posts": N, "bodies": {sha256: count}, "paths": {path: count}}``
so a benchmark can check that every alternative sent the same bytes to the same path.

Run alone: ``python -m benchmarks.loopback_server [--port 0]``; it prints
``listening on http://127.0.0.1:PORT`` and serves until SIGINT/SIGTERM (or, with
``--exit-with-stdin``, until its standard input closes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEND_ANSWER = json.dumps(
    {
        "success": True,
        "message": "Message sent successfully",
        "recipientProfileUrn": "urn:li:fsd_profile:ACoAABenchmark0000000000000000000000",
    },
    separators=(",", ":"),
).encode()


def _response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


_POST_RESPONSE = _response("200 OK", SEND_ANSWER)


class _Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: Counter[str] = Counter()
        self.paths: Counter[str] = Counter()

    def record(self, path: str, body: bytes) -> None:
        digest = hashlib.sha256(body).hexdigest()[:16]
        with self.lock:
            self.bodies[digest] += 1
            self.paths[path] += 1

    def snapshot(self) -> dict[str, object]:
        with self.lock:
            return {
                "posts": sum(self.paths.values()),
                "bodies": dict(self.bodies),
                "paths": dict(self.paths),
            }

    def reset(self) -> None:
        with self.lock:
            self.bodies.clear()
            self.paths.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client says close
    disable_nagle_algorithm = True
    stats: _Stats

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.stats.record(self.path, body)
        self.wfile.write(_POST_RESPONSE)

    def do_GET(self) -> None:
        if self.path == "/_stats":
            self.wfile.write(_response("200 OK", json.dumps(self.stats.snapshot()).encode()))
        else:
            self.wfile.write(_response("404 Not Found", b'{"error":"not found"}'))

    def do_DELETE(self) -> None:
        if self.path == "/_stats":
            self.stats.reset()
            self.wfile.write(_response("200 OK", b"{}"))
        else:
            self.wfile.write(_response("404 Not Found", b'{"error":"not found"}'))

    def log_message(self, format: str, *args: object) -> None:
        pass


class LoopbackServer(ThreadingHTTPServer):
    """The server; ``LoopbackServer(port=0)`` binds a free port on 127.0.0.1."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"stats": _Stats()})
        super().__init__(("127.0.0.1", port), handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--exit-with-stdin", action="store_true", help="stop when standard input closes (parent died)"
    )
    args = parser.parse_args(argv)
    server = LoopbackServer(args.port)

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def stop_when_stdin_closes() -> None:
        sys.stdin.read()
        stop()

    if args.exit_with_stdin:  # the parent holds our stdin: when it goes away (even killed), stop
        threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    print(f"listening on {server.url}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
